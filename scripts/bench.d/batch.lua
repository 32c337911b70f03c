-- wrk script: SendMessageBatch, 10 entries of 100 bytes per request, JSON
-- protocol. response() counts entries the server reported as Failed, so a
-- 200 that did not store all ten is not counted as ten messages.
--   wrk ... -s batch.lua http://HOST:PORT/ -- QUEUE_URL
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

failed = 0   -- per-thread; read by done() through thread:get

function setup(thread)
   common.keep_thread(thread)
end

function init(args)
   local entries = {}
   for i = 0, 9 do
      entries[#entries + 1] = string.format('{"Id":"m%d","MessageBody":"%s"}',
                                            i, common.MESSAGE_BODY)
   end
   wrk.method = "POST"
   wrk.path = "/"
   wrk.headers = common.headers("SendMessageBatch")
   wrk.body = string.format('{"QueueUrl":"%s","Entries":[%s]}',
                            common.queue_url(args), table.concat(entries, ","))
end

function response(status, headers, body)
   if status ~= 200 then return end
   local list = body:match('"Failed"%s*:%s*(%b[])')
   if list then
      for _ in list:gmatch('"Id"') do failed = failed + 1 end
   end
end

function done(summary, latency, requests)
   common.report(summary, latency, { failed_entries = common.sum("failed") })
end

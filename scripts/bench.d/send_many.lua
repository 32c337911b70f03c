-- wrk script: SendMessage spread over many queues, one 100-byte message
-- per request, JSON protocol; each connection's next request goes to the
-- next queue, round robin over PREFIX0000 .. PREFIX(N-1).
--   wrk ... -s send_many.lua http://HOST:PORT/ -- QUEUE_URL_PREFIX N
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local requests = {}
local next_one = 0

function init(args)
   local prefix = common.queue_url(args)
   local n = tonumber(args[2] or "")
   if not n or n < 1 then
      io.stderr:write("bench: send_many.lua needs the number of queues after the prefix\n")
      os.exit(2)
   end
   local headers = common.headers("SendMessage")
   for i = 0, n - 1 do
      local body = string.format('{"QueueUrl":"%s%04d","MessageBody":"%s"}', prefix, i, common.MESSAGE_BODY)
      requests[#requests + 1] = wrk.format("POST", "/", headers, body)
   end
   -- the threads start at different queues
   next_one = math.random(#requests) - 1
end

function request()
   next_one = next_one % #requests + 1
   return requests[next_one]
end

function done(summary, latency, requests)
   common.report(summary, latency)
end

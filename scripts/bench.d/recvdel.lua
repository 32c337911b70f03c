-- wrk script: the consumer loop. Each connection alternates ReceiveMessage
-- (MaxNumberOfMessages 10, no long poll) and DeleteMessageBatch of exactly
-- the receipt handles that receive returned.
--
-- wrk keeps one Lua state per thread, shared by that thread's connections,
-- and with pipelining off it asks request() for a connection's next call
-- only after response() has seen that connection's last reply. So
-- response() parses the handles into a per-thread stack of pending deletes
-- and the request() that follows pops it: every receive that got messages
-- is followed by the delete of those messages.
--   wrk ... -s recvdel.lua http://HOST:PORT/ -- QUEUE_URL
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

-- per-thread counters, read by done() through thread:get
receives = 0        -- ReceiveMessage calls answered 200
empty = 0           -- ... of which returned no message
received = 0        -- messages received
deletes = 0         -- DeleteMessageBatch calls answered 200
deleted = 0         -- entries reported Successful
delete_failed = 0   -- entries reported Failed
bad_status = 0      -- non-200 answers (wrk counts them too)

local queue_url
local receive_req
local delete_headers
local pending = {}  -- stack of DeleteMessageBatch bodies

function setup(thread)
   common.keep_thread(thread)
end

function init(args)
   queue_url = common.queue_url(args)
   receive_req = wrk.format("POST", "/", common.headers("ReceiveMessage"),
      string.format('{"QueueUrl":"%s","MaxNumberOfMessages":10}', queue_url))
   delete_headers = common.headers("DeleteMessageBatch")
end

function request()
   local n = #pending
   if n > 0 then
      local body = pending[n]
      pending[n] = nil
      return wrk.format("POST", "/", delete_headers, body)
   end
   return receive_req
end

-- The JSON string value that starts at body[i] (just after its opening
-- quote), still escaped, so it can be put back into JSON as it is.
local function string_at(body, i)
   local j = i
   while true do
      local q = body:find('["\\]', j)
      if not q then return nil, #body + 1 end
      if body:byte(q) == 92 then        -- backslash: skip the escaped char
         j = q + 2
      else
         return body:sub(i, q - 1), q + 1
      end
   end
end

local function count_ids(list)
   local n = 0
   if list then
      for _ in list:gmatch('"Id"') do n = n + 1 end
   end
   return n
end

function response(status, headers, body)
   if status ~= 200 then
      bad_status = bad_status + 1
      return
   end
   if body:find('"Successful"', 1, true) or body:find('"Failed"', 1, true) then
      deletes = deletes + 1
      deleted = deleted + count_ids(body:match('"Successful"%s*:%s*(%b[])'))
      delete_failed = delete_failed + count_ids(body:match('"Failed"%s*:%s*(%b[])'))
      return
   end
   receives = receives + 1
   local entries = {}
   local pos = 1
   while true do
      local _, e = body:find('"ReceiptHandle"%s*:%s*"', pos)
      if not e then break end
      local handle
      handle, pos = string_at(body, e + 1)
      if not handle then break end
      entries[#entries + 1] = string.format('{"Id":"d%d","ReceiptHandle":"%s"}',
                                            #entries, handle)
   end
   if #entries == 0 then
      empty = empty + 1
      return
   end
   received = received + #entries
   pending[#pending + 1] = string.format('{"QueueUrl":"%s","Entries":[%s]}',
                                         queue_url, table.concat(entries, ","))
end

function done(summary, latency, requests)
   common.report(summary, latency, {
      receives = common.sum("receives"),
      empty_receives = common.sum("empty"),
      received = common.sum("received"),
      deletes = common.sum("deletes"),
      deleted = common.sum("deleted"),
      delete_failed = common.sum("delete_failed"),
      bad_status = common.sum("bad_status"),
   })
end

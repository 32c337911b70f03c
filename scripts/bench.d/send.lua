-- wrk script: SendMessage, one 100-byte message per request, JSON protocol.
-- A static request (no request()/response() callbacks), so wrk spends as
-- little as it can per call; the ceiling run uses this very script.
--   wrk ... -s send.lua http://HOST:PORT/ -- QUEUE_URL
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

function init(args)
   wrk.method = "POST"
   wrk.path = "/"
   wrk.headers = common.headers("SendMessage")
   wrk.body = string.format('{"QueueUrl":"%s","MessageBody":"%s"}',
                            common.queue_url(args), common.MESSAGE_BODY)
end

function done(summary, latency, requests)
   common.report(summary, latency)
end

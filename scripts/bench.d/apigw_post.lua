-- wrk script: an API Gateway route with the SQS integration: POST of a
-- 100-byte JSON body, which becomes one durable SQS message per request.
-- The ceiling run uses this very script.
--   wrk ... -s apigw_post.lua http://HOST:PORT/ -- PATH
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

function init(args)
   wrk.method = "POST"
   wrk.path = (args and args[1]) or "/orders"
   wrk.headers = { ["Host"] = wrk.headers["Host"], ["Content-Type"] = "application/json" }
   -- 100 bytes: {"order":"<90 characters>"}
   wrk.body = '{"order":"' .. string.rep("0123456789", 9) .. '"}'
end

function done(summary, latency, requests)
   common.report(summary, latency)
end

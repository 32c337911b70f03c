-- wrk script: an API Gateway mock route (GET, a fixed answer from the
-- config, no integration behind it). The ceiling run uses this very script.
--   wrk ... -s apigw_get.lua http://HOST:PORT/ -- PATH
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

function init(args)
   wrk.method = "GET"
   wrk.path = (args and args[1]) or "/health"
end

function done(summary, latency, requests)
   common.report(summary, latency)
end

-- Shared by the wrk scripts of scripts/bench: the SQS JSON-protocol request
-- shape and the one-line report every run prints from done().
--   local common = dofile(<this dir> .. "common.lua")
local M = {}

-- Every message body: 100 bytes of printable ASCII, nothing to escape.
M.MESSAGE_BODY = string.rep("0123456789", 10)

-- The Host header: wrk.init sets wrk.headers.Host from the URL before a
-- script's init() runs, but a script that replaces wrk.headers, or builds
-- requests with wrk.format and its own table, would send none (and some
-- servers refuse a request without one). So every table built here
-- carries it.
function M.host()
   if wrk.headers and wrk.headers["Host"] then
      return wrk.headers["Host"]
   end
   local host = wrk.host or "localhost"
   if host:find(":") then host = "[" .. host .. "]" end
   return wrk.port and (host .. ":" .. wrk.port) or host
end

-- The headers of an SQS JSON 1.0 call for action, Host included.
function M.headers(action)
   return {
      ["Host"] = M.host(),
      ["Content-Type"] = "application/x-amz-json-1.0",
      ["X-Amz-Target"] = "AmazonSQS." .. action,
   }
end

-- The queue URL is the script's first argument (after wrk's "--").
function M.queue_url(args)
   local url = args and args[1]
   if not url or url == "" then
      io.stderr:write("bench: the wrk script needs the queue URL after --\n")
      os.exit(2)
   end
   return url
end

-- Prints one "BENCH key=value ..." line for scripts/bench to parse. Times
-- are in microseconds, as wrk keeps them; extra is a table of more fields.
function M.report(summary, latency, extra)
   local e = summary.errors
   local fields = {
      string.format("requests=%d", summary.requests),
      string.format("duration_us=%d", summary.duration),
      string.format("p50_us=%d", latency:percentile(50)),
      string.format("p90_us=%d", latency:percentile(90)),
      string.format("p99_us=%d", latency:percentile(99)),
      string.format("mean_us=%.0f", latency.mean),
      string.format("max_us=%d", latency.max),
      string.format("err_connect=%d", e.connect),
      string.format("err_read=%d", e.read),
      string.format("err_write=%d", e.write),
      string.format("err_status=%d", e.status),
      string.format("err_timeout=%d", e.timeout),
   }
   for k, v in pairs(extra or {}) do
      fields[#fields + 1] = string.format("%s=%d", k, v)
   end
   io.write("BENCH ", table.concat(fields, " "), "\n")
end

-- Keeps the thread objects setup() sees, so done() can read their counters.
M.threads = {}
function M.keep_thread(thread)
   M.threads[#M.threads + 1] = thread
end
function M.sum(name)
   local n = 0
   for _, t in ipairs(M.threads) do
      n = n + (tonumber(t:get(name)) or 0)
   end
   return n
end

return M

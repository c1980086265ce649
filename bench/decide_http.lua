-- wrk script for bench/decide_http.py: POSTs a rotating mix of contacts and
-- counts the answers. Run as
--   wrk -s bench/decide_http.lua URL -- REQUESTS_FILE
-- REQUESTS_FILE is a Lua file written by decide_http.py that returns
-- {token = "...", items = {{path = "...", body = "..."}, ...}}.
-- The bare endpoint (`endwell bench-bare`) serves the same path, so both
-- get the same requests.
-- Anything but 201 (or the file's `expect`, 200 for dry runs) is counted
-- as bad; decide_http.py fails when any is.

local threads = {}
local counter = 1

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local data = dofile(args[1])
   items = data.items
   expect = data.expect or 201
   headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. data.token,
   }
   -- Each thread starts at a different place in the rotation.
   n = (id * 7919) % #items
   sent, created, bad = 0, 0, 0
end

function request()
   n = n % #items + 1
   local it = items[n]
   sent = sent + 1
   return wrk.format("POST", it.path, headers, it.body)
end

function response(status, headers, body)
   if status == 201 or status == expect then
      created = created + 1
   else
      bad = bad + 1
      if bad <= 3 then
         io.stderr:write("unexpected status " .. status .. ": " .. string.sub(body or "", 1, 300) .. "\n")
      end
   end
end

function done(summary, latency, requests)
   local s, c, b = 0, 0, 0
   for _, t in ipairs(threads) do
      s = s + t:get("sent")
      c = c + t:get("created")
      b = b + t:get("bad")
   end
   local e = summary.errors
   io.write(string.format(
      "RESULT sent=%d created=%d bad=%d completed=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%.1f max_us=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
      s, c, b, summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end

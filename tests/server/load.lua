-- wrk script for load.sh: PUT /cards/70001/pin with a different pre-made body
-- per request.
--   wrk ... -s load.lua URL -- BODIES_FILE THREADS TOKEN KEY_INDEX
-- Thread i (0-based) of T sends lines i+1, i+1+T, i+1+2T... of the file, so no
-- two requests carry the same cryptogram while the file lasts. If a thread runs
-- out it starts its share again; those requests are replays (the server
-- answers 4xx) and are counted as `reused`.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   local file, nthreads, token, key_index = args[1], tonumber(args[2]), args[3], args[4]
   local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
      ["Key-Index"] = key_index,
   }
   reqs = {}
   local n = 0
   for line in io.lines(file) do
      if n % nthreads == id and #line > 0 then
         reqs[#reqs + 1] = wrk.format("PUT", "/cards/70001/pin", headers, line)
      end
      n = n + 1
   end
   loaded = #reqs
   sent, reused, ok, non2xx = 0, 0, 0, 0
   statuses = {}
end

function request()
   sent = sent + 1
   if sent > #reqs then
      reused = reused + 1
   end
   return reqs[((sent - 1) % #reqs) + 1]
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      non2xx = non2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local ok_t, non_t, reused_t, loaded = 0, 0, 0, 0
   local by_status = {}
   for _, t in ipairs(threads) do
      ok_t = ok_t + t:get("ok")
      non_t = non_t + t:get("non2xx")
      reused_t = reused_t + t:get("reused")
      loaded = loaded + t:get("loaded")
      for code, n in pairs(t:get("statuses")) do
         by_status[code] = (by_status[code] or 0) + n
      end
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   local codes = {}
   for code, n in pairs(by_status) do
      codes[#codes + 1] = string.format("%d x%d", code, n)
   end
   table.sort(codes)
   print(string.format(
      "load: set PINs/s %.1f (%d x 2xx in %.2f s), p50 %.2f ms, p99 %.2f ms, non-2xx %d%s, " ..
      "socket errors %d (connect %d, read %d, write %d, timeout %d), cryptograms %d, reused %d",
      ok_t / secs, ok_t, secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      non_t, #codes > 0 and (" [" .. table.concat(codes, ", ") .. "]") or "",
      e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout, loaded, reused_t))
end

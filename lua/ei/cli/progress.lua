--- The live progress line of `ei-train` on a terminal: epoch, bar, elapsed, ETA and
-- the latest metrics, made to fit the terminal's width.
-- @module ei.cli.progress
local progress = {}

--- The metrics the line shows, in order, with the short names used when space is short.
progress.METRICS = {
  { key = "loss", short = "loss" },
  { key = "accuracy", short = "acc" },
  { key = "val_loss", short = "vloss" },
  { key = "val_accuracy", short = "vacc" },
}

local BAR, MIN_BAR = 24, 8

--- A duration as "m:ss" or "h:mm:ss".
-- @tparam number seconds
-- @treturn string
function progress.clock(seconds)
  seconds = math.max(0, math.floor(seconds + 0.5))
  local h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s) end
  return ("%d:%02d"):format(m, s)
end

-- The parts of the line for a given layout: `bar` (cells), `digits` (of the
-- metrics), `short` (metric names), `metrics` (how many), `elapsed`, `eta`.
local function parts(st, layout)
  local fraction = st.epochs and st.epochs > 0 and (st.epoch or 0) / st.epochs or 0
  local head = ("Epoch %d/%s"):format(st.epoch or 0, st.epochs and tostring(st.epochs) or "?")
  if layout.bar > 0 then
    local filled = math.floor(fraction * layout.bar + 0.5)
    head = head .. (" [%s%s]"):format(("#"):rep(filled), ("-"):rep(layout.bar - filled))
  end
  local list = { head .. (" %3d%%"):format(math.floor(fraction * 100 + 0.5)) }
  if layout.elapsed then list[#list + 1] = "elapsed " .. progress.clock(st.elapsed or 0) end
  if layout.eta and fraction > 0 and fraction < 1 then
    list[#list + 1] = "ETA " .. progress.clock((st.elapsed or 0) / fraction * (1 - fraction))
  end
  local m, shown = st.metrics or {}, 0
  for _, metric in ipairs(progress.METRICS) do
    if type(m[metric.key]) == "number" and shown < layout.metrics then
      shown = shown + 1
      list[#list + 1] = ("%s %." .. layout.digits .. "f"):format(layout.short and metric.short or metric.key, m[metric.key])
    end
  end
  return table.concat(list, layout.gap)
end

-- Layouts from the fullest to the barest: the metrics are shortened first (fewer
-- digits, short names, single spaces), then the elapsed time gives way, then the
-- bar shrinks, then the metrics go one by one (each time the bar may grow back),
-- then the ETA.
local function layouts()
  local list = {}
  local function add(t)
    local l = { bar = BAR, digits = 4, short = false, metrics = #progress.METRICS, elapsed = true, eta = true, gap = "  " }
    for k, v in pairs(t) do l[k] = v end
    list[#list + 1] = l
  end
  add {}
  add { digits = 3 }
  add { digits = 3, short = true }
  local tight = { digits = 3, short = true, gap = " " }
  add(tight)
  tight.elapsed = false
  add(tight)
  for n = #progress.METRICS, 0, -1 do
    tight.metrics = n
    for bar = BAR, MIN_BAR, -4 do
      tight.bar = bar
      add(tight)
    end
  end
  tight.eta = false
  add(tight)
  tight.bar = 0
  add(tight)
  return list
end
local LAYOUTS = layouts()

--- Cut a line to fit `width` columns, leaving the last one free (where a terminal
-- may wrap).
-- @tparam string line
-- @tparam integer width
-- @treturn string
function progress.fit(line, width)
  return #line <= width - 1 and line or line:sub(1, math.max(width - 1, 0))
end

--- Render the progress line, as wide as the fullest layout that fits.
-- @tparam table st `epoch`, `epochs`, `elapsed` (seconds), `metrics` (table)
-- @tparam[opt] integer width the columns available (default: no limit); the line
--  is at most `width - 1` characters long so the cursor never reaches the last
--  column, where a terminal may wrap
-- @treturn string the line, without `\r`
function progress.line(st, width)
  local room = width and width - 1 or math.huge
  for _, layout in ipairs(LAYOUTS) do
    local text = parts(st, layout)
    if #text <= room then return text end
  end
  return parts(st, LAYOUTS[#LAYOUTS]):sub(1, math.max(room, 0))
end

return progress

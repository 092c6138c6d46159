--- Training curves as SVG, one panel per metric: the training and validation value
-- per epoch, with epoch ticks, value ticks, a legend, axis labels, and a title naming
-- the job and the final values.
-- @module ei.plot
local plot = {}

local PANEL_W, PANEL_H, TITLE_H, COLUMNS = 440, 300, 40, 2
-- The plot area inside a panel: left, right, top, bottom margins.
local LEFT, RIGHT, TOP, BOTTOM = 64, 18, 34, 48
local TRAINING, VALIDATION = "#1f77b4", "#ff7f0e"
local DEFAULT_METRICS = { "loss", "accuracy" }
-- Keys of a metrics event that are no metric.
local NOT_METRICS = { epoch = true, epochs = true, job = true, fraction = true }

local function finite(v)
  return type(v) == "number" and v == v and v > -math.huge and v < math.huge
end

local function esc(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

-- A tick step of 1, 2 or 5 times a power of ten, about span/count.
local function nice_step(span, count)
  local raw = span / count
  local power = 10 ^ math.floor(math.log(raw, 10))
  for _, m in ipairs { 1, 2, 5, 10 } do
    if raw <= m * power * (1 + 1e-9) then return m * power end
  end
  return 10 * power
end

-- Ticks covering lo..hi (widened to whole steps), with their label format.
local function value_ticks(lo, hi)
  local step = nice_step(hi - lo, 5)
  local first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
  local decimals = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
  local ticks = {}
  for k = first, last do ticks[#ticks + 1] = k * step end
  return ticks, "%." .. decimals .. "f"
end

-- Whole-epoch ticks between lo and hi, at most about 10.
local function epoch_ticks(lo, hi)
  local step = math.max(1, math.tointeger(nice_step(math.max(hi - lo, 1), 8)) or 1)
  local ticks = {}
  for e = math.ceil(lo / step) * step, hi, step do
    if e >= lo then ticks[#ticks + 1] = math.tointeger(e) or e end
  end
  if #ticks == 0 then ticks[1] = lo end
  return ticks
end

local function value_text(v)
  if not finite(v) then return "n/a" end
  local a = math.abs(v)
  if a >= 1000 then return ("%.1f"):format(v) end
  if a > 0 and a < 0.001 then return ("%.3e"):format(v) end
  return ("%.4f"):format(v)
end

-- The metrics to draw: the base names (without val_), in order.
local function chosen_metrics(epochs, wanted)
  local names, seen = {}, {}
  local function add(name)
    name = name:gsub("^val_", "")
    if not seen[name] then seen[name] = true; names[#names + 1] = name end
  end
  if wanted == "all" then
    local found = {}
    for _, m in ipairs(epochs) do
      for k, v in pairs(m) do
        if type(k) == "string" and type(v) == "number" and not NOT_METRICS[k] then found[k:gsub("^val_", "")] = true end
      end
    end
    for _, name in ipairs(DEFAULT_METRICS) do if found[name] then add(name) end end
    local rest = {}
    for name in pairs(found) do if not seen[name] then rest[#rest + 1] = name end end
    table.sort(rest)
    for _, name in ipairs(rest) do add(name) end
    if #names == 0 then for _, name in ipairs(DEFAULT_METRICS) do add(name) end end
  else
    for _, name in ipairs(wanted or DEFAULT_METRICS) do add(name) end
    if #names == 0 then for _, name in ipairs(DEFAULT_METRICS) do add(name) end end
  end
  return names
end

-- The epoch of the i-th event: its own `epoch`, else its place.
local function epoch_of(m, i)
  return math.type(m.epoch) == "integer" and m.epoch or i
end

-- The series of a panel: training and, when reported, validation.
local function series_of(epochs, name)
  local list = {}
  for _, s in ipairs { { key = name, role = "training", label = "training", color = TRAINING },
    { key = "val_" .. name, role = "validation", label = "validation", color = VALIDATION } } do
    local points = {}
    for i, m in ipairs(epochs) do
      if finite(m[s.key]) then points[#points + 1] = { epoch_of(m, i), m[s.key] } end
    end
    if #points > 0 or s.role == "training" then
      s.points = points
      list[#list + 1] = s
    end
  end
  return list
end

-- The lowest and highest value of the series (a unit span when there is none).
local function value_range(series)
  local lo, hi = math.huge, -math.huge
  for _, s in ipairs(series) do
    for _, p in ipairs(s.points) do lo, hi = math.min(lo, p[2]), math.max(hi, p[2]) end
  end
  if lo > hi then return 0, 1 end
  if lo == hi then return lo - 0.5, hi + 0.5 end
  return lo, hi
end

-- The first and last epoch over lists of metrics events.
local function epoch_range(lists)
  local first, last = math.huge, -math.huge
  for _, epochs in ipairs(lists) do
    for i, m in ipairs(epochs) do
      first, last = math.min(first, epoch_of(m, i)), math.max(last, epoch_of(m, i))
    end
  end
  if first > last then return 1, 1 end
  return first, last
end

-- The final value of a series, or nil.
local function final(s)
  return s and s.points[#s.points] and s.points[#s.points][2]
end

local function final_text(series)
  local parts = {}
  for _, s in ipairs(series) do
    if final(s) then parts[#parts + 1] = s.label .. " " .. value_text(final(s)) end
  end
  return table.concat(parts, ", ")
end

local function axes(out, box, yticks, fmt, xticks, name)
  local x, y, w, h = box.x, box.y, box.w, box.h
  for _, v in ipairs(yticks) do
    local py = box.ymap(v)
    out[#out + 1] = ('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e3e3e3"/>'):format(x, py, x + w, py)
    out[#out + 1] = ('<text class="tick-y" x="%.1f" y="%.1f" text-anchor="end" font-size="11" data-value="%.17g">%s</text>'):format(
      x - 6, py + 4, v, fmt:format(v))
  end
  for _, e in ipairs(xticks) do
    local px = box.xmap(e)
    out[#out + 1] = ('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#555"/>'):format(px, y + h, px, y + h + 5)
    out[#out + 1] = ('<text class="tick-x" x="%.1f" y="%.1f" text-anchor="middle" font-size="11" data-value="%d">%d</text>'):format(
      px, y + h + 18, e, e)
  end
  out[#out + 1] = ('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#555"/>'):format(x, y, w, h)
  out[#out + 1] = ('<text class="axis-label" x="%.1f" y="%.1f" text-anchor="middle" font-size="12">epoch</text>'):format(x + w / 2, y + h + 36)
  out[#out + 1] = ('<text class="axis-label" x="%.1f" y="%.1f" text-anchor="middle" font-size="12" transform="rotate(-90 %.1f %.1f)">%s</text>'):format(
    x - 48, y + h / 2, x - 48, y + h / 2, esc(name))
end

local LEGEND_W = 92

-- The corner of the plot area where the legend hides the fewest points, as
-- matplotlib's loc="best" does: top right, top left, bottom right, bottom left.
local function legend_corner(box, series)
  local h = 8 + 16 * #series
  local best, best_count
  for _, corner in ipairs { { 1, 0 }, { 0, 0 }, { 1, 1 }, { 0, 1 } } do
    local lx = corner[1] == 1 and box.x + box.w - LEGEND_W - 8 or box.x + 8
    local ly = corner[2] == 1 and box.y + box.h - h - 8 or box.y + 8
    local count = 0
    for _, s in ipairs(series) do
      for _, p in ipairs(s.points) do
        local x, y = box.xmap(p[1]), box.ymap(p[2])
        if x >= lx - 4 and x <= lx + LEGEND_W + 4 and y >= ly - 4 and y <= ly + h + 4 then count = count + 1 end
      end
    end
    if not best or count < best_count then best, best_count = { lx, ly }, count end
  end
  return best[1], best[2]
end

local function legend(out, box, series)
  local lx, ly = legend_corner(box, series)
  out[#out + 1] = ('<rect x="%.1f" y="%.1f" width="%d" height="%d" fill="white" fill-opacity="0.85" stroke="#ccc"/>'):format(
    lx, ly, LEGEND_W, 8 + 16 * #series)
  for i, s in ipairs(series) do
    local ty = ly + 16 * i
    out[#out + 1] = ('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>'):format(lx + 6, ty - 4, lx + 26, ty - 4, s.color)
    out[#out + 1] = ('<text class="legend" data-series="%s" x="%.1f" y="%.1f" font-size="11">%s</text>'):format(s.key, lx + 32, ty, s.label)
  end
end

-- Draw a panel of series over the epochs xlo..xhi, titled `heading`, with its
-- legend inside unless `legend_inside` is false.
local function draw_panel(out, series, name, heading, px, py, xlo, xhi, legend_inside)
  local lo, hi = value_range(series)
  local yticks, fmt = value_ticks(lo, hi)
  lo, hi = yticks[1], yticks[#yticks]
  if xlo == xhi then xlo, xhi = xlo - 0.5, xhi + 0.5 end
  local box = { x = px + LEFT, y = py + TOP, w = PANEL_W - LEFT - RIGHT, h = PANEL_H - TOP - BOTTOM }
  box.xmap = function(e) return box.x + (e - xlo) / (xhi - xlo) * box.w end
  box.ymap = function(v) return box.y + box.h - (v - lo) / (hi - lo) * box.h end
  out[#out + 1] = ('<g class="panel" data-metric="%s" data-min="%.17g" data-max="%.17g">'):format(esc(name), lo, hi)
  out[#out + 1] = ('<text class="panel-title" x="%.1f" y="%.1f" font-size="13">%s</text>'):format(box.x, py + 22, heading)
  axes(out, box, yticks, fmt, epoch_ticks(math.ceil(xlo), math.floor(xhi)), name)
  for _, s in ipairs(series) do
    local pts = {}
    for _, p in ipairs(s.points) do pts[#pts + 1] = ("%.2f,%.2f"):format(box.xmap(p[1]), box.ymap(p[2])) end
    out[#out + 1] = ('<polyline class="series" data-series="%s" data-role="%s" fill="none" stroke="%s" stroke-width="%d" points="%s"/>'):format(
      esc(s.key), s.role, s.color, s.width or 2, table.concat(pts, " "))
  end
  if legend_inside ~= false then legend(out, box, series) end
  out[#out + 1] = "</g>"
end

local function panel(out, epochs, name, px, py)
  local series = series_of(epochs, name)
  local xlo, xhi = epoch_range { epochs }
  local finals = final_text(series)
  draw_panel(out, series, name, esc(name) .. (finals ~= "" and (" (final: " .. finals .. ")") or " (no values)"),
    px, py, xlo, xhi)
  return series
end

local function title_text(epochs, opts, finals)
  local head = opts.job and ("Training job %s"):format(esc(opts.job)) or "Training"
  local text = ("%s, %d epoch%s"):format(head, #epochs, #epochs == 1 and "" or "s")
  if #finals > 0 then text = text .. ": final " .. table.concat(finals, "; ") end
  return text
end

local function check_args(epochs, opts)
  if type(epochs) ~= "table" then error("bad argument #1 to 'svg' (table expected)", 3) end
  for i, m in ipairs(epochs) do
    if type(m) ~= "table" then error(("bad argument #1 to 'svg' (entry %d is not a table)"):format(i), 3) end
  end
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #2 to 'svg' (table expected)", 3) end
  local metrics = opts and opts.metrics
  if metrics ~= nil and metrics ~= "all" and type(metrics) ~= "table" then
    error("bad argument #2 to 'svg' (metrics must be \"all\" or a list of names)", 3)
  end
end

-- The SVG document: white, titled (the title already escaped), the body's elements.
local function document(width, height, title, body)
  local out = {
    ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, sans-serif">'):format(
      width, height, width, height),
    ("<title>%s</title>"):format(title),
    ('<rect width="%d" height="%d" fill="white"/>'):format(width, height),
    ('<text class="title" x="%.1f" y="26" text-anchor="middle" font-size="15" font-weight="bold">%s</text>'):format(width / 2, title),
  }
  table.move(body, 1, #body, #out + 1, out)
  out[#out + 1] = "</svg>\n"
  return table.concat(out, "\n")
end

--- Draw the per-epoch metrics events of a training as an SVG document.
-- @tparam {table,...} epochs `metrics` events in epoch order
-- @tparam[opt] table opts `job` (the job id, for the title), `metrics` (the
--  metrics to draw, one panel each: a list such as `{ "loss", "accuracy" }`, the
--  default, or `"all"` for every metric the events carry; `val_x` goes with `x`)
-- @treturn string the SVG text
-- @usage io.open("curves.svg", "w"):write(plot.svg(result.epochs, { job = job.id, metrics = "all" }))
function plot.svg(epochs, opts)
  check_args(epochs, opts)
  opts = opts or {}
  local names = chosen_metrics(epochs, opts.metrics)
  local columns = math.min(COLUMNS, #names)
  local rows = (#names + columns - 1) // columns
  local width, height = columns * PANEL_W, TITLE_H + rows * PANEL_H
  local body, finals = {}, {}
  for i, name in ipairs(names) do
    local series = panel(body, epochs, name, (i - 1) % columns * PANEL_W, TITLE_H + (i - 1) // columns * PANEL_H)
    if i <= 2 and final(series[1]) then
      local t = ("%s %s"):format(esc(name), value_text(final(series[1])))
      if final(series[2]) then t = t .. (" (val %s)"):format(value_text(final(series[2]))) end
      finals[#finals + 1] = t
    end
  end
  return document(width, height, title_text(epochs, opts, finals), body)
end

-- One colour per run (matplotlib's tab10), repeating after ten.
local RUN_COLORS = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" }
local COMPARE_METRICS = { "val_accuracy", "val_loss" }
local LEGEND_ROW = 18

local function check_runs(runs, opts)
  if type(runs) ~= "table" then error("bad argument #1 to 'compare' (table expected)", 3) end
  for i, r in ipairs(runs) do
    if type(r) ~= "table" or type(r.epochs) ~= "table" then
      error(("bad argument #1 to 'compare' (run %d needs an epochs table)"):format(i), 3)
    end
  end
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #2 to 'compare' (table expected)", 3) end
end

-- One series per run of a metric, in the run's colour; the best one drawn thicker.
local function run_series(runs, key)
  local list = {}
  for i, r in ipairs(runs) do
    local points = {}
    for k, m in ipairs(r.epochs) do
      if finite(m[key]) then points[#points + 1] = { epoch_of(m, k), m[key] } end
    end
    list[i] = { key = key, role = "run", label = r.label, color = RUN_COLORS[(i - 1) % #RUN_COLORS + 1],
      width = r.best and 3 or 2, points = points }
  end
  return list
end

-- The legend below the panels: one row per run, its colour and label.
local function runs_legend(out, runs, y)
  for i, r in ipairs(runs) do
    local ty = y + LEGEND_ROW * i
    out[#out + 1] = ('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="%d"/>'):format(
      LEFT, ty - 4, LEFT + 24, ty - 4, RUN_COLORS[(i - 1) % #RUN_COLORS + 1], r.best and 3 or 2)
    out[#out + 1] = ('<text class="legend" data-run="%d" x="%d" y="%.1f" font-size="12"%s>%s%s</text>'):format(
      i, LEFT + 32, ty, r.best and ' font-weight="bold"' or "", esc(r.label), r.best and " (best)" or "")
  end
end

--- Draw several trainings' validation curves side by side: one panel per metric
-- (validation accuracy and loss by default), one line per run, and a legend naming
-- each run.
-- @tparam {table,...} runs `{ label = "learningRate=0.005 batchSize=16", epochs =
--  { metrics events }, best = boolean }` (the best run is drawn thicker)
-- @tparam[opt] table opts `title`, `metrics` (keys of the metrics events, default
--  `{ "val_accuracy", "val_loss" }`)
-- @treturn string the SVG text
-- @usage io.open("sweep.svg", "w"):write(plot.compare({ { label = "lr=0.005", epochs = r.epochs } }))
function plot.compare(runs, opts)
  check_runs(runs, opts)
  opts = opts or {}
  local metrics = opts.metrics or COMPARE_METRICS
  local columns = math.max(1, math.min(COLUMNS, #metrics))
  local rows = (#metrics + columns - 1) // columns
  local lists = {}
  for i, r in ipairs(runs) do lists[i] = r.epochs end
  local xlo, xhi = epoch_range(lists)
  local body = {}
  for i, key in ipairs(metrics) do
    draw_panel(body, run_series(runs, key), key, esc(key:gsub("^val_", "validation ")),
      (i - 1) % columns * PANEL_W, TITLE_H + (i - 1) // columns * PANEL_H, xlo, xhi, false)
  end
  runs_legend(body, runs, TITLE_H + rows * PANEL_H)
  local width, height = columns * PANEL_W, TITLE_H + rows * PANEL_H + LEGEND_ROW * (#runs + 1)
  local title = esc(opts.title or ("%d training run%s"):format(#runs, #runs == 1 and "" or "s"))
  return document(width, height, title, body)
end

return plot

--- Training curves as SVG: loss and accuracy per epoch, training and validation.
-- @module ei.plot
local plot = {}

local WIDTH, HEIGHT, PAD = 360, 240, 40

local SERIES = {
  { panel = 1, key = "loss", color = "#1f77b4", label = "loss" },
  { panel = 1, key = "val_loss", color = "#ff7f0e", label = "val_loss" },
  { panel = 2, key = "accuracy", color = "#1f77b4", label = "accuracy" },
  { panel = 2, key = "val_accuracy", color = "#ff7f0e", label = "val_accuracy" },
}

local function finite(v)
  return type(v) == "number" and v == v and v > -math.huge and v < math.huge
end

-- Range of the finite values of a panel, never empty.
local function range(epochs, panel)
  local lo, hi = math.huge, -math.huge
  for _, s in ipairs(SERIES) do
    if s.panel == panel then
      for _, m in ipairs(epochs) do
        local v = m[s.key]
        if finite(v) then lo, hi = math.min(lo, v), math.max(hi, v) end
      end
    end
  end
  if lo > hi then return 0, 1 end
  if lo == hi then return lo - 0.5, hi + 0.5 end
  return lo, hi
end

local function points(epochs, key, x0, lo, hi)
  local n, list = #epochs, {}
  for i, m in ipairs(epochs) do
    local v = m[key]
    if finite(v) then
      local x = x0 + PAD + (n > 1 and (i - 1) / (n - 1) or 0.5) * (WIDTH - 2 * PAD)
      local y = HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2 * PAD)
      list[#list + 1] = ("%.2f,%.2f"):format(x, y)
    end
  end
  return table.concat(list, " ")
end

local function panel(out, epochs, number, title)
  local x0 = (number - 1) * WIDTH
  local lo, hi = range(epochs, number)
  out[#out + 1] = ('<g data-panel="%s" data-min="%.17g" data-max="%.17g">'):format(title, lo, hi)
  out[#out + 1] = ('<text x="%d" y="20" font-size="14">%s</text>'):format(x0 + PAD, title)
  out[#out + 1] = ('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>'):format(
    x0 + PAD, PAD, WIDTH - 2 * PAD, HEIGHT - 2 * PAD)
  for _, s in ipairs(SERIES) do
    if s.panel == number then
      out[#out + 1] = ('<polyline data-series="%s" fill="none" stroke="%s" stroke-width="2" points="%s"/>'):format(
        s.label, s.color, points(epochs, s.key, x0, lo, hi))
    end
  end
  out[#out + 1] = "</g>"
end

--- Draw the per-epoch metrics events of a training as an SVG document.
-- @tparam {table,...} epochs `metrics` events in epoch order
-- @treturn string the SVG text
-- @usage io.open("curves.svg", "w"):write(plot.svg(result.epochs))
function plot.svg(epochs)
  if type(epochs) ~= "table" then error("bad argument #1 to 'svg' (table expected)", 2) end
  for i, m in ipairs(epochs) do
    if type(m) ~= "table" then error(("bad argument #1 to 'svg' (entry %d is not a table)"):format(i), 2) end
  end
  local out = {
    ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'):format(
      2 * WIDTH, HEIGHT, 2 * WIDTH, HEIGHT),
    ('<title>Training curves, %d epochs</title>'):format(#epochs),
  }
  panel(out, epochs, 1, "loss")
  panel(out, epochs, 2, "accuracy")
  out[#out + 1] = "</svg>\n"
  return table.concat(out, "\n")
end

return plot

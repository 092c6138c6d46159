-- The training-curve SVG of `ei-train --plot`: read back as XML, its ticks, legend,
-- labels and title checked against the events of the run, and rendered by rsvg-convert.
local helper = require "helper"
local core = require "ei.core"
local plot = require "ei.plot"
local lxp = require "lxp"

local q = helper.quote

-- The SVG as data: panels by metric with their texts (class, x, y, text,
-- data-value, data-series, bold) and polylines (by series, and in order as
-- `lines`); the texts outside panels.
local function parse(svg)
  local doc = { panels = {}, order = {}, texts = {} }
  local panel, text
  local parser = lxp.new {
    StartElement = function(_, name, attrs)
      if name == "svg" then
        doc.width, doc.height = tonumber(attrs.width), tonumber(attrs.height)
      elseif name == "g" and attrs.class == "panel" then
        panel = { metric = attrs["data-metric"], texts = {}, series = {}, lines = {} }
        doc.panels[panel.metric] = panel
        doc.order[#doc.order + 1] = panel.metric
      elseif name == "text" then
        text = { class = attrs.class, x = tonumber(attrs.x), y = tonumber(attrs.y), text = "",
          value = tonumber(attrs["data-value"]), series = attrs["data-series"], bold = attrs["font-weight"] == "bold" }
        local list = panel and panel.texts or doc.texts
        list[#list + 1] = text
      elseif name == "polyline" then
        local pts = {}
        for x, y in attrs.points:gmatch("([%d.]+),([%d.]+)") do pts[#pts + 1] = { tonumber(x), tonumber(y) } end
        panel.series[attrs["data-series"]] = { role = attrs["data-role"], points = pts }
        panel.lines[#panel.lines + 1] = { series = attrs["data-series"], width = tonumber(attrs["stroke-width"]), points = pts }
      end
    end,
    CharacterData = function(_, s) if text then text.text = text.text .. s end end,
    EndElement = function(_, name)
      if name == "text" then text = nil elseif name == "g" then panel = nil end
    end,
  }
  assert(parser:parse(svg))
  assert(parser:parse())
  parser:close()
  return doc
end

local function of_class(texts, class)
  local list = {}
  for _, t in ipairs(texts) do if t.class == class then list[#list + 1] = t end end
  return list
end

-- Map a coordinate to a value through two tick labels (linear axis).
local function through(ticks, coord_key, c)
  local a, b = ticks[1], ticks[#ticks]
  return a.value + (c - a[coord_key]) / (b[coord_key] - a[coord_key]) * (b.value - a.value)
end

-- Tick labels read as numbers equal their data-value and run in order along the axis.
local function check_ticks(ticks, coord_key, increasing)
  assert.is_true(#ticks >= 3, "too few ticks")
  for i, t in ipairs(ticks) do
    assert.near(t.value, tonumber(t.text), 1e-9)
    if i > 1 then
      assert.is_true(t.value > ticks[i - 1].value)
      if increasing then assert.is_true(t[coord_key] > ticks[i - 1][coord_key]) else assert.is_true(t[coord_key] < ticks[i - 1][coord_key]) end
    end
  end
end

local function png_size(path)
  local data = assert(helper.read_file(path))
  assert.equal("\137PNG\r\n\26\n", data:sub(1, 8))
  return string.unpack(">I4>I4", data, 17)
end

describe("ei-train --plot", function()
  it("draws loss and accuracy with epoch and value ticks, a legend, axis labels, and the job and final values in the title", function()
    local sim = helper.studio { speed = 300 }
    local svg_file = os.tmpname() .. ".svg"
    local out, rc = helper.ei_train(("--project %d --learn %d --follow --json --set trainingCycles=12 --plot %s")
      :format(sim.project_id, sim.learn_id, q(svg_file)), { host = sim.url, key = sim.api_key })
    sim:stop()
    assert.equal(0, rc, out)
    local metrics, job_id = {}, nil
    for line in out:gmatch("[^\n]+") do
      local ev = core.decode(line)
      if ev.type == "metrics" then metrics[#metrics + 1] = ev end
      if ev.type == "started" then job_id = ev.job end
    end
    assert.equal(12, #metrics)
    local svg = assert(helper.read_file(svg_file))
    local doc = parse(svg)
    local last = metrics[#metrics]
    local title = of_class(doc.texts, "title")[1].text
    assert.equal(("Training job %d, 12 epochs: final loss %.4f (val %.4f); accuracy %.4f (val %.4f)")
      :format(job_id, last.loss, last.val_loss, last.accuracy, last.val_accuracy), title)
    assert.same({ "loss", "accuracy" }, doc.order)
    for _, name in ipairs { "loss", "accuracy" } do
      local p = doc.panels[name]
      local xt, yt = of_class(p.texts, "tick-x"), of_class(p.texts, "tick-y")
      check_ticks(xt, "x", true)
      check_ticks(yt, "y", false)
      for _, t in ipairs(xt) do assert.equal("integer", math.type(math.tointeger(t.value))) end
      assert.is_true(xt[1].value >= 1 and xt[#xt].value <= 12)
      local legend = of_class(p.texts, "legend")
      assert.same({ "training", "validation" }, { legend[1].text, legend[2].text })
      assert.same({ name, "val_" .. name }, { legend[1].series, legend[2].series })
      local labels = of_class(p.texts, "axis-label")
      assert.same({ "epoch", name }, { labels[1].text, labels[2].text })
      assert.equal(("%s (final: training %.4f, validation %.4f)"):format(name, last[name], last["val_" .. name]),
        of_class(p.texts, "panel-title")[1].text)
      -- Every point, read back through the tick labels, is its epoch and its value.
      for _, key in ipairs { name, "val_" .. name } do
        local s = assert(p.series[key], key)
        assert.equal(12, #s.points)
        for i, pt in ipairs(s.points) do
          assert.near(metrics[i].epoch, through(xt, "x", pt[1]), 0.01)
          assert.near(metrics[i][key], through(yt, "y", pt[2] + 4), (yt[#yt].value - yt[1].value) * 0.002)
        end
      end
    end
    -- rsvg-convert renders it at its own size.
    if os.execute("command -v rsvg-convert > /dev/null 2>&1") then
      local png = os.tmpname() .. ".png"
      assert(os.execute(("rsvg-convert -o %s %s"):format(q(png), q(svg_file))))
      local w, h = png_size(png)
      assert.same({ doc.width, doc.height }, { w, h })
      os.remove(png)
    else
      pending("rsvg-convert (Debian librsvg2-bin) is not installed")
    end
    os.remove(svg_file)
  end)

  it("draws a panel per metric reported with --plot-metrics all, and the named ones otherwise", function()
    local sim = helper.studio { speed = 300 }
    local svg_file = os.tmpname() .. ".svg"
    local out, rc = helper.ei_train(("--project %d --learn %d --follow --set trainingCycles=3 --plot %s --plot-metrics val_accuracy")
      :format(sim.project_id, sim.learn_id, q(svg_file)), { host = sim.url, key = sim.api_key })
    sim:stop()
    assert.equal(0, rc, out)
    assert.same({ "accuracy" }, parse(helper.read_file(svg_file)).order)
    os.remove(svg_file)
    local events = {}
    for e = 1, 5 do
      events[e] = { type = "metrics", epoch = e, loss = 1 / e, val_loss = 1.2 / e, accuracy = e / 10,
        auc = 0.5 + e / 20, val_auc = 0.5 + e / 25, lr = 0.001 * e, job = 7 }
    end
    local doc = parse(plot.svg(events, { job = 7, metrics = "all" }))
    assert.same({ "loss", "accuracy", "auc", "lr" }, doc.order)
    assert.equal(2 * 440, doc.width)
    assert.equal(40 + 2 * 300, doc.height)
    -- a metric without validation values has a training line only
    assert.same({ "lr" }, { of_class(doc.panels.lr.texts, "legend")[1].series })
    assert.equal(1, #of_class(doc.panels.lr.texts, "legend"))
    assert.matches("^Training job 7, 5 epochs", of_class(doc.texts, "title")[1].text)
    assert.same({ "loss", "accuracy" }, parse(plot.svg(events, { metrics = {} })).order)
  end)

  it("skips values that are not finite, and refuses arguments of the wrong kind", function()
    local doc = parse(plot.svg({ { epoch = 1, loss = 0 / 0 }, { epoch = 2, loss = 0.5 }, { epoch = 3, loss = math.huge } }))
    assert.equal(1, #doc.panels.loss.series.loss.points)
    assert.equal(0, #doc.panels.accuracy.series.accuracy.points)
    assert.has_error(function() plot.svg("x") end, "bad argument #1 to 'svg' (table expected)")
    assert.has_error(function() plot.svg({}, { metrics = 5 }) end,
      "bad argument #2 to 'svg' (metrics must be \"all\" or a list of names)")
  end)
end)

describe("plot.compare", function()
  -- Three runs of five epochs; run 2 ends highest in validation accuracy.
  local function runs()
    local list = {}
    for r, top in ipairs { 0.6, 0.9, 0.4 } do
      local epochs = {}
      for e = 1, 5 do
        epochs[e] = { epoch = e, val_accuracy = top * e / 5, val_loss = 1.5 - top * e / 5, loss = 1, accuracy = 0.5 }
      end
      list[r] = { label = ("learningRate=0.00%d batchSize=32"):format(r), epochs = epochs, best = r == 2 }
    end
    return list
  end

  -- The panels in order, and the legend texts below them.
  local function read(svg)
    local doc = parse(svg)
    local out = { panels = {}, legend = of_class(doc.texts, "legend") }
    for i, metric in ipairs(doc.order) do out.panels[i] = doc.panels[metric] end
    return out
  end

  it("draws one line per run in a validation accuracy and a validation loss panel, the legend naming each run", function()
    local svg = plot.compare(runs(), { title = "Sweep <3 runs>" })
    assert.matches("<title>Sweep &lt;3 runs&gt;</title>", svg, 1, true)
    local doc = read(svg)
    assert.equal(2, #doc.panels)
    assert.equal("val_accuracy", doc.panels[1].metric)
    assert.equal("val_loss", doc.panels[2].metric)
    for _, p in ipairs(doc.panels) do
      assert.equal(3, #p.lines)
      for i, line in ipairs(p.lines) do
        assert.equal(p.metric, line.series)
        assert.equal(5, #line.points)
        assert.equal(i == 2 and 3 or 2, line.width)
      end
    end
    -- the best run ends highest in accuracy (smallest y) and lowest in loss
    local acc, loss = doc.panels[1].lines, doc.panels[2].lines
    assert.is_true(acc[2].points[5][2] < acc[1].points[5][2] and acc[1].points[5][2] < acc[3].points[5][2])
    assert.is_true(loss[2].points[5][2] > loss[1].points[5][2] and loss[1].points[5][2] > loss[3].points[5][2])
    assert.same({ "learningRate=0.001 batchSize=32", "learningRate=0.002 batchSize=32 (best)", "learningRate=0.003 batchSize=32" },
      { doc.legend[1].text, doc.legend[2].text, doc.legend[3].text })
    assert.same({ false, true, false }, { doc.legend[1].bold, doc.legend[2].bold, doc.legend[3].bold })
    if os.execute("command -v rsvg-convert > /dev/null 2>&1") then
      local file = os.tmpname()
      helper.write_file(file .. ".svg", svg)
      assert.is_true(os.execute(("rsvg-convert -o %s %s"):format(q(file .. ".png"), q(file .. ".svg"))))
      os.remove(file); os.remove(file .. ".svg"); os.remove(file .. ".png")
    end
  end)

  it("refuses arguments of the wrong kind", function()
    assert.has_error(function() plot.compare("runs") end, "bad argument #1 to 'compare' (table expected)")
    assert.has_error(function() plot.compare({ { label = "a" } }) end, "bad argument #1 to 'compare' (run 1 needs an epochs table)")
    assert.has_error(function() plot.compare({}, 3) end, "bad argument #2 to 'compare' (table expected)")
    assert.matches("0 training runs", plot.compare({}), 1, true)
  end)
end)

-- Pandoc Lua filter that turns a manual page's header (docs/man/<page>.md) followed by its
-- reference page (docs/<page>.md) into a man page. It is run by cmake/ManPages.cmake:
--
--   pandoc -f gfm -t man -s --lua-filter man.lua docs/man/X.md docs/X.md
--
-- What it does, in this order:
--   1. drops the blocks between <!-- man:skip --> and <!-- man:end --> (web-only parts), and
--      horizontal rules;
--   2. drops each level-1 heading and the blocks up to the next heading: that is a web page's
--      title and introduction (a header file has no level-1 heading);
--   3. lifts every heading one level (## becomes .SH, ### becomes .SS), removes a leading
--      "7. " numbering, renames "Exit codes" to "EXIT STATUS" and upper-cases .SH titles;
--   4. puts the sections in the order man-pages(7) asks for (NAME, SYNOPSIS, DESCRIPTION,
--      OPTIONS first; EXIT STATUS, ENVIRONMENT, FILES, NOTES, SEE ALSO last);
--   5. rewrites links: one to a heading of the page becomes that heading's title, one to
--      another reference page becomes its manual page (pgmoneta.conf(5); "<text> in
--      pgmoneta.conf(5)" for one of its sections), one to any other document becomes its path
--      in the source tree (docs/remote.md);
--   6. turns tables into definition lists, since man tables wider than the terminal make
--      groff warn and wrap badly: the first column is the term and the other columns,
--      labelled with their header, are the definition;
--   7. writes the SYNOPSIS code blocks as no-fill text without pandoc's extra indentation;
--   8. turns hyphenation off and sets ragged-right text.
-- Steps 6 to 8 apply only when the output is man.

local stringify = pandoc.utils.stringify

-- Reference pages and their manual pages.
local man_of = {
  ["pgmoneta.md"] = "pgmoneta(1)",
  ["pgmoneta-cli.md"] = "pgmoneta-cli(1)",
  ["pgmoneta-admin.md"] = "pgmoneta-admin(1)",
  ["pgmoneta-walinfo.md"] = "pgmoneta-walinfo(1)",
  ["pgmoneta-walfilter.md"] = "pgmoneta-walfilter(1)",
  ["configuration.md"] = "pgmoneta.conf(5)",
  ["cli-configuration.md"] = "pgmoneta_cli.conf(5)",
}

local renamed = {
  ["Exit codes"] = "EXIT STATUS",
}

local first = { "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS" }
local last = { "EXIT STATUS", "ENVIRONMENT", "FILES", "NOTES", "BUGS", "EXAMPLES", "SEE ALSO" }

local function is_marker(block, word)
  return block.t == "RawBlock" and block.format:match("html")
    and block.text:match("^%s*<!%-%-%s*man:" .. word .. "%s*%-%->%s*$") ~= nil
end

-- 1 and 2: web-only blocks.
local function drop_web_only(blocks)
  local out = pandoc.List()
  local skipping, in_intro = false, false
  for _, b in ipairs(blocks) do
    if is_marker(b, "skip") then
      skipping = true
    elseif is_marker(b, "end") then
      skipping = false
    elseif skipping or b.t == "HorizontalRule" then
      -- dropped
    elseif b.t == "Header" and b.level == 1 then
      in_intro = true
    elseif b.t == "Header" then
      in_intro = false
      out:insert(b)
    elseif not in_intro then
      out:insert(b)
    end
  end
  return out
end

-- 3: heading levels and titles; returns a map identifier -> title for the links.
local function retitle(blocks)
  local titles = {}
  for _, b in ipairs(blocks) do
    if b.t == "Header" then
      b.level = math.max(1, b.level - 1)
      local text = stringify(b.content):gsub("^%d+%.%s+", "")
      text = renamed[text] or text
      if b.level == 1 then
        text = text:upper()
        b.content = { pandoc.Str(text) }
      elseif stringify(b.content) ~= text then
        b.content = { pandoc.Str(text) }
      end
      if b.identifier ~= "" then
        titles[b.identifier] = text
      end
    end
  end
  return titles
end

-- 4: section order.
local function reorder(blocks)
  local sections, lead = {}, pandoc.List()
  local current = nil
  for _, b in ipairs(blocks) do
    if b.t == "Header" and b.level == 1 then
      current = { title = stringify(b.content), blocks = pandoc.List({ b }) }
      table.insert(sections, current)
    elseif current then
      current.blocks:insert(b)
    else
      lead:insert(b)
    end
  end
  local function rank(title)
    for i, t in ipairs(first) do
      if t == title then return i end
    end
    for i, t in ipairs(last) do
      if t == title then return 1000 + i end
    end
    return 100
  end
  for i, s in ipairs(sections) do
    s.index = i
  end
  table.sort(sections, function(a, b)
    local ra, rb = rank(a.title), rank(b.title)
    if ra ~= rb then return ra < rb end
    return a.index < b.index
  end)
  local out = lead
  for _, s in ipairs(sections) do
    out:extend(s.blocks)
  end
  return out
end

-- 5: links.
local function relink(titles)
  return {
    Link = function(link)
      local target = link.target
      if target:match("^%a[%w+.-]*:") then
        return nil -- http:, https:, mailto: stay links
      end
      local text = stringify(link.content)
      local anchor = target:match("^#(.+)$")
      if anchor then
        return pandoc.Emph({ pandoc.Str(titles[anchor] or text) })
      end
      -- Reference pages link "configuration.md", header files "../configuration.md".
      local file = target:gsub("#.*$", ""):match("([^/]*)$")
      local page = man_of[file]
      if page then
        local name, section = page:match("^(.-)(%(%d%))$")
        local ref = { pandoc.Strong({ pandoc.Str(name) }), pandoc.Str(section) }
        if text == file or text == name or text == page then
          return ref
        end
        local out = pandoc.List(link.content)
        out:insert(pandoc.Space())
        if target:match("#") then
          -- a section of another page: "Where the files are in pgmoneta.conf(5)"
          out:insert(pandoc.Str("in"))
          out:insert(pandoc.Space())
          out:extend(ref)
        else
          out:insert(pandoc.Str("("))
          out:extend(ref)
          out:insert(pandoc.Str(")"))
        end
        return out
      end
      local path = "docs/" .. file
      if text == file then
        return pandoc.Code(path)
      end
      local out = pandoc.List(link.content)
      out:insert(pandoc.Space())
      out:insert(pandoc.Str("("))
      out:insert(pandoc.Code(path))
      out:insert(pandoc.Str(")"))
      return out
    end,
  }
end

-- 6: tables.
local function cell_inlines(cell)
  local out = pandoc.List()
  for i, b in ipairs(cell) do
    if i > 1 then out:insert(pandoc.Space()) end
    if b.content and type(b.content) == "table" and (b.t == "Plain" or b.t == "Para") then
      out:extend(b.content)
    else
      out:insert(pandoc.Str(stringify(b)))
    end
  end
  return out
end

local function table_to_deflist(tbl)
  local simple = pandoc.utils.to_simple_table(tbl)
  local headers = simple.headers
  local items = {}
  for _, row in ipairs(simple.rows) do
    local term = cell_inlines(row[1])
    local definition = pandoc.List()
    if #row == 2 then
      definition:insert(pandoc.Plain(cell_inlines(row[2])))
    else
      for j = 2, #row do
        local value = cell_inlines(row[j])
        if #value > 0 then
          local line = pandoc.List()
          local label = stringify(headers[j] or {})
          if label ~= "" then
            line:insert(pandoc.Emph({ pandoc.Str(label .. ":") }))
            line:insert(pandoc.Space())
          end
          line:extend(value)
          if #definition > 0 then
            definition:insert(pandoc.RawBlock("man", ".br"))
          end
          definition:insert(pandoc.Plain(line))
        end
      end
    end
    table.insert(items, { term, { definition } })
  end
  return pandoc.DefinitionList(items)
end

-- SYNOPSIS: code blocks become plain no-fill text at the section's indentation (pandoc would
-- indent them a further 7 columns, and the continuation lines would not fit in 80).
local function roff_escape(line)
  line = line:gsub("\\", "\\e"):gsub("%-", "\\-")
  if line:match("^[.']") then
    line = "\\&" .. line
  end
  return line
end

local function flatten_synopsis(blocks)
  local in_synopsis = false
  for i, b in ipairs(blocks) do
    if b.t == "Header" and b.level == 1 then
      in_synopsis = stringify(b.content) == "SYNOPSIS"
    elseif in_synopsis and b.t == "CodeBlock" then
      local lines = {}
      for line in (b.text .. "\n"):gmatch("(.-)\n") do
        table.insert(lines, roff_escape(line))
      end
      blocks[i] = pandoc.RawBlock("man", ".PP\n.nf\n" .. table.concat(lines, "\n") .. "\n.fi")
    end
  end
  return blocks
end

function Pandoc(doc)
  local blocks = drop_web_only(doc.blocks)
  local titles = retitle(blocks)
  blocks = reorder(blocks)
  doc.blocks = blocks
  doc = doc:walk(relink(titles))
  if FORMAT:match("man") then
    doc = doc:walk({ Table = table_to_deflist })
    doc.blocks = flatten_synopsis(doc.blocks)
    -- No hyphenation: it would split option names, keys and paths. The man macros reset
    -- hyphenation at every paragraph from the HY register, so clear that (pandoc's .nh is
    -- not enough).
    doc.meta.hyphenate = false
    -- Ragged right: justified lines full of long literals get wide gaps.
    doc.meta.adjusting = "l"
    doc.blocks:insert(1, pandoc.RawBlock("man", ".nr HY 0"))
  end
  return doc
end

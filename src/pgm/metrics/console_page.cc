#include "pgm/metrics/console_page.h"

#include <array>
#include <ctime>
#include <set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "pgm/core/markup.h"
#include "pgm/metrics/exposition.h"

namespace pgm::metrics {

namespace {

using core::escape_markup;

// Categories in display order, each with the name prefixes (after "pgmoneta_") that fall in it;
// the first matching prefix of the first category wins, so the longer, more specific prefixes
// come first where two overlap.
struct Category {
  std::string_view title;
  std::array<std::string_view, 8> prefixes;
};

constexpr std::array<Category, 8> kCategories{{
    {"Operations", {"active_", "progress_", "operations_", "failed_operations_"}},
    {"Servers", {"server_"}},
    {"WAL", {"wal_", "current_wal_"}},
    {"Backups", {"backup", "restore_", "proven_restore_"}},
    {"Retention", {"retention"}},
    {"Space",
     {"used_space", "free_space", "total_space", "total_size", "workspace_", "hot_standby",
      "wal_shipping"}},
    {"Off-site", {"offsite_"}},
    {"Daemon",
     {"state", "version", "uptime_", "start_time_", "fips", "compression", "configuration_",
      "logging_"}},
}};

constexpr std::string_view kOther = "Other";

// The style sheet: CSS variables per theme; `body.dark` forces dark, `body.light` light, neither
// follows the system.
constexpr std::string_view kStyle = R"css(
:root{--bg:#fff;--fg:#1d1d1f;--muted:#6e6e73;--line:#d9d9de;--head:#f4f4f6;--accent:#2f6db5}
@media (prefers-color-scheme:dark){body:not(.light){--bg:#16181c;--fg:#e6e6e9;--muted:#9a9aa2;--line:#33363d;--head:#1f2228;--accent:#6ea8ff}}
body.dark{--bg:#16181c;--fg:#e6e6e9;--muted:#9a9aa2;--line:#33363d;--head:#1f2228;--accent:#6ea8ff}
body{margin:0;padding:1em 2em;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,sans-serif}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em;color:var(--accent)}
.meta{color:var(--muted);margin-bottom:1em}
.bar{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;padding:.6em;background:var(--head);border:1px solid var(--line)}
.bar input,.bar select{background:var(--bg);color:var(--fg);border:1px solid var(--line);padding:.2em .4em}
table{border-collapse:collapse;width:100%;table-layout:fixed}th:first-child{width:34%}th:last-child{width:16%}td{overflow-wrap:anywhere}th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--head)}td.v{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-size:.95em}.help,.type{color:var(--muted)}
body:not(.advanced) tr.fam,body:not(.advanced) tr.detail{display:none}
.hidden{display:none}
)css";

// Filters rows and sections, keeps the choices in localStorage (parameters of the URL, such as
// ?server=primary&view=advanced, win over them), reloads on the chosen period.
constexpr std::string_view kScript = R"js(
(function(){
var ids=['q','server','category','view','refresh','theme'],el={},timer=null;
ids.forEach(function(k){el[k]=document.getElementById(k);});
function load(k){try{return localStorage.getItem('pgmoneta.console.'+k);}catch(e){return null;}}
function save(k,v){try{localStorage.setItem('pgmoneta.console.'+k,v);}catch(e){}}
var params=new URLSearchParams(location.search);
ids.forEach(function(k){var v=params.has(k)?params.get(k):load(k);if(v!==null){el[k].value=v;}});
function apply(){
 var text=el.q.value.toLowerCase(),server=el.server.value,cat=el.category.value,adv=el.view.value==='advanced';
 document.body.classList.toggle('advanced',adv);
 document.body.classList.toggle('dark',el.theme.value==='dark');
 document.body.classList.toggle('light',el.theme.value==='light');
 var shown=0;
 document.querySelectorAll('section').forEach(function(sec){
  var rows=0;
  sec.querySelectorAll('tbody').forEach(function(tb){
   var n=0;
   tb.querySelectorAll('tr:not(.fam)').forEach(function(tr){
    var ok=(cat===''||sec.dataset.category===cat)&&(adv||!tr.classList.contains('detail'))
     &&(text===''||tr.dataset.text.indexOf(text)>=0)
     &&(server===''||tr.dataset.server===''||tr.dataset.server===server);
    tr.classList.toggle('hidden',!ok);if(ok){n++;}
   });
   tb.classList.toggle('hidden',n===0);rows+=n;
  });
  sec.classList.toggle('hidden',rows===0);shown+=rows;
 });
 document.getElementById('shown').textContent=shown+' shown';
 if(timer){clearTimeout(timer);timer=null;}
 var s=parseInt(el.refresh.value,10);if(s>0){timer=setTimeout(function(){location.reload();},s*1000);}
 ids.forEach(function(k){save(k,el[k].value);});
}
ids.forEach(function(k){el[k].addEventListener(k==='q'?'input':'change',apply);});
apply();
})();
)js";

std::string label_text(const Sample& sample) {
  std::string out;
  for (const auto& [name, value] : sample.labels) {
    if (!out.empty()) {
      out += ", ";
    }
    out += fmt::format("{}=\"{}\"", name, value);
  }
  return out;
}

std::string server_of(const Sample& sample) {
  for (const auto& [name, value] : sample.labels) {
    if (name == "name") {
      return value;
    }
  }
  return "";
}

// A per-backup series (labelled with a backup's label): shown in the advanced view only.
bool is_detail(const Sample& sample) {
  for (const auto& label : sample.labels) {
    if (label.first == "label") {
      return true;
    }
  }
  return false;
}

std::string lower(std::string text) {
  for (char& ch : text) {
    if (ch >= 'A' && ch <= 'Z') {
      ch = static_cast<char>(ch - 'A' + 'a');
    }
  }
  return text;
}

void append_family(std::string& out, const Family& family) {
  out += fmt::format(
      "<tbody><tr class=\"fam\"><td colspan=\"3\"><code>{}</code> <span class=\"type\">{}</span>"
      "<div class=\"help\">{}</div></td></tr>\n",
      escape_markup(family.name), escape_markup(family.type), escape_markup(family.help));
  for (const Sample& sample : family.samples) {
    const std::string labels = label_text(sample);
    const std::string text = lower(sample.name + " " + labels + " " + family.help);
    out += fmt::format(
        "<tr{} data-server=\"{}\" data-text=\"{}\"><td><code>{}</code></td><td>{}</td>"
        "<td class=\"v\">{}</td></tr>\n",
        is_detail(sample) ? " class=\"detail\"" : "", escape_markup(server_of(sample)),
        escape_markup(text), escape_markup(sample.name), escape_markup(labels),
        escape_markup(sample.value));
  }
  out += "</tbody>\n";
}

std::string utc_time(int64_t epoch) {
  std::time_t t = epoch;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

}  // namespace

std::string_view console_category(std::string_view family_name) {
  constexpr std::string_view kPrefix = "pgmoneta_";
  if (family_name.substr(0, kPrefix.size()) != kPrefix) {
    return kOther;
  }
  std::string_view rest = family_name.substr(kPrefix.size());
  for (const Category& category : kCategories) {
    for (std::string_view prefix : category.prefixes) {
      if (!prefix.empty() && rest.substr(0, prefix.size()) == prefix) {
        return category.title;
      }
    }
  }
  return kOther;
}

std::string render_console_page(std::string_view prometheus_text, std::string_view version,
                                int64_t now_epoch) {
  const std::vector<Family> families = parse_exposition(prometheus_text);
  std::vector<std::string_view> titles;
  for (const Category& category : kCategories) {
    titles.push_back(category.title);
  }
  titles.push_back(kOther);
  std::set<std::string> servers;
  size_t samples = 0;
  for (const Family& family : families) {
    samples += family.samples.size();
    for (const Sample& sample : family.samples) {
      if (std::string s = server_of(sample); !s.empty()) {
        servers.insert(std::move(s));
      }
    }
  }

  std::string out;
  out.reserve(prometheus_text.size() * 3 + 8192);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  out += "<title>pgmoneta console</title><style>";
  out += kStyle;
  out += "</style></head><body>\n<h1>pgmoneta console</h1>\n";
  out += fmt::format(
      "<div class=\"meta\">pgmoneta {} &middot; {} &middot; {} metric families, {} samples "
      "&middot; <span id=\"shown\"></span></div>\n",
      escape_markup(version), utc_time(now_epoch), families.size(), samples);
  out +=
      "<div class=\"bar\"><input id=\"q\" type=\"search\" placeholder=\"Search metrics\" "
      "aria-label=\"Search metrics\">\n<select id=\"server\" aria-label=\"Server\">"
      "<option value=\"\">All servers</option>";
  for (const std::string& server : servers) {
    out += fmt::format("<option value=\"{0}\">{0}</option>", escape_markup(server));
  }
  out +=
      "</select>\n<select id=\"category\" aria-label=\"Category\">"
      "<option value=\"\">All categories</option>";
  for (std::string_view title : titles) {
    out += fmt::format("<option value=\"{0}\">{0}</option>", escape_markup(title));
  }
  out +=
      "</select>\n<select id=\"view\" aria-label=\"View\"><option value=\"simple\">Simple"
      "</option><option value=\"advanced\">Advanced</option></select>\n"
      "<select id=\"refresh\" aria-label=\"Refresh\"><option value=\"0\">No refresh</option>"
      "<option value=\"5\">Every 5 s</option><option value=\"10\">Every 10 s</option>"
      "<option value=\"30\">Every 30 s</option><option value=\"60\">Every 60 s</option>"
      "</select>\n<select id=\"theme\" aria-label=\"Theme\"><option value=\"system\">System "
      "theme</option><option value=\"light\">Light</option><option value=\"dark\">Dark"
      "</option></select></div>\n";
  for (std::string_view title : titles) {
    std::string rows;
    for (const Family& family : families) {
      if (console_category(family.name) == title) {
        append_family(rows, family);
      }
    }
    if (rows.empty()) {
      continue;
    }
    out += fmt::format(
        "<section data-category=\"{0}\"><h2>{0}</h2><table><thead><tr><th>Metric</th>"
        "<th>Labels</th><th>Value</th></tr></thead>\n",
        escape_markup(title));
    out += rows;
    out += "</table></section>\n";
  }
  out += "<script>";
  out += kScript;
  out += "</script></body></html>\n";
  return out;
}

}  // namespace pgm::metrics

#include "pgm/walinfo/output.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pgm/walinfo/mapping.h"
#include "pgm/xlog/format.h"
#include "pgm/xlog/rmgr.h"

namespace pgm::walinfo {

namespace {

constexpr std::string_view kRed = "\033[31m";
constexpr std::string_view kGreen = "\033[32m";
constexpr std::string_view kBlue = "\033[34m";
constexpr std::string_view kReset = "\033[0m";

// pg_waldump's "%X/%08X".
std::string padded_lsn(wal::Lsn lsn) { return fmt::format("{:X}/{:08X}", lsn.high(), lsn.low()); }

std::string rel_text(const xlog::RelLocator& rel) {
  return fmt::format("rel {}/{}/{}", rel.spc, rel.db, rel.rel);
}

std::string maybe_translate(const std::string& text, const OidMapping* translate) {
  return translate != nullptr ? translate->translate(text) : text;
}

}  // namespace

std::string block_refs_short(const xlog::Record& record) {
  std::string text;
  for (const xlog::BlockRef& b : record.blocks) {
    text += fmt::format(", blkref #{}: {}", b.id, rel_text(b.rel));
    if (b.fork != 0) {
      text += fmt::format(" fork {}", xlog::fork_name(b.fork));
    }
    text += fmt::format(" blk {}", b.block);
    if (b.has_image) {
      text += b.apply_image ? " FPW" : " FPW for WAL verification";
    }
  }
  return text;
}

std::string block_refs_detailed(const xlog::Record& record) {
  std::string text;
  for (const xlog::BlockRef& b : record.blocks) {
    if (!text.empty()) {
      text += ' ';
    }
    text += fmt::format("blkref #{}: {} fork {} blk {}", b.id, rel_text(b.rel),
                        xlog::fork_name(b.fork), b.block);
    if (!b.has_image) {
      continue;
    }
    text += fmt::format(" (FPW{}); hole: offset: {}, length: {}",
                        b.apply_image ? "" : " for WAL verification", b.hole_offset, b.hole_length);
    if (b.compression != xlog::ImageCompression::kNone) {
      const int64_t saved = int64_t{xlog::kBlockSize} - b.hole_length - b.image_length;
      text += fmt::format(", compression saved: {}, method: {}", saved,
                          xlog::image_compression_name(b.compression));
    }
  }
  return text;
}

std::string raw_line(const xlog::Record& record, std::string_view description, bool color,
                     const OidMapping* translate) {
  const std::string header =
      fmt::format("rmgr: {:<11} len (rec/tot): {:>6}/{:>8}, tx: {:>10}, lsn: {}, prev {}, ",
                  xlog::rmgr_name(record.rmid), record.total_length - record.image_bytes(),
                  record.total_length, record.xid, padded_lsn(record.lsn), padded_lsn(record.prev));
  std::string desc = maybe_translate("desc: " + std::string(description), translate);
  std::string blocks = maybe_translate(block_refs_short(record), translate);
  if (!color) {
    return header + desc + blocks;
  }
  return fmt::format("{}{}{}{}{}{}{}{}{}", kRed, header, kReset, kGreen, desc, kReset, kBlue,
                     blocks, kReset);
}

std::string json_record(const xlog::Record& record, std::string_view description,
                        const OidMapping* translate) {
  nlohmann::ordered_json fields;
  fields["ResourceManager"] = xlog::rmgr_name(record.rmid);
  fields["RecordLength"] = record.total_length - record.image_bytes();
  fields["TotalLength"] = record.total_length;
  fields["Xid"] = record.xid;
  fields["Info"] = record.info;
  fields["StartLSN"] = record.lsn.value();
  fields["EndLSN"] = record.end_lsn.value();
  fields["ResourceManagerId"] = record.rmid;
  fields["Crc"] = record.crc;
  fields["Data"] = maybe_translate(std::string(description), translate);
  fields["Description"] = maybe_translate(block_refs_detailed(record), translate);
  nlohmann::ordered_json wrapper;
  wrapper["Record"] = std::move(fields);
  return wrapper.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

RecordPrinter::RecordPrinter(std::ostream& out, Format format, bool color,
                             const OidMapping* translate)
    : out_(out), format_(format), color_(color), translate_(translate) {}

void RecordPrinter::begin() {
  if (format_ == Format::kJson && !begun_) {
    out_ << "{\"WAL\": [";
  }
  begun_ = true;
}

void RecordPrinter::print(const xlog::Record& record, std::string_view description) {
  if (format_ == Format::kJson) {
    out_ << (printed_ == 0 ? "\n" : ",\n") << json_record(record, description, translate_);
  } else {
    out_ << raw_line(record, description, color_, translate_) << '\n';
  }
  ++printed_;
}

void RecordPrinter::end() {
  if (format_ == Format::kJson && begun_) {
    out_ << "\n]}\n";
  }
  begun_ = false;
  out_.flush();
}

}  // namespace pgm::walinfo

#include "pgm/storage/local.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "pgm/core/unique_fd.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"

namespace pgm::storage {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSideSuffix = kSideFileSuffix;

// Keys are relative paths without "." or ".." segments (they come from our own tree walks, but
// a bad one must not escape the root).
Result<void> check_key(std::string_view key) {
  if (key.empty() || key.front() == '/') {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("local: bad key '{}'", key));
  }
  for (const auto& part : fs::path(std::string(key))) {
    if (part == "." || part == "..") {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("local: bad key '{}'", key));
    }
  }
  return {};
}

// Copies `from` to `to` through a temp name with fsync and rename (bounded memory).
Result<void> copy_atomic(const std::string& from, const std::string& to) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) {
    return make_errno_error(fmt::format("local: open {}", from), errno);
  }
  PGM_ASSIGN_OR_RETURN(io::AtomicFile out, io::AtomicFile::create(to, 0600));
  std::vector<char> buf(1 << 20);
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t n, io::read_some(in.get(), buf, "local: read", from));
    if (n == 0) {
      break;
    }
    PGM_TRY(out.write(std::string_view(buf.data(), n)));
  }
  return out.commit();
}

class LocalStorage : public Storage {
 public:
  explicit LocalStorage(std::string root) : root_(std::move(root)) {}

  std::string name() const override { return "local"; }

  Result<void> put_file(std::string_view key, const std::string& path,
                        std::string_view sha512_hex) override {
    PGM_TRY(check_key(key));
    std::string target = path_of(key);
    PGM_TRY(io::make_directories(io::parent_directory(target), 0700));
    PGM_TRY(copy_atomic(path, target));
    return io::write_file_atomic(target + std::string(kSideSuffix), std::string(sha512_hex) + "\n",
                                 0600);
  }

  Result<ObjectInfo> head(std::string_view key) override {
    PGM_TRY(check_key(key));
    std::error_code ec;
    std::string p = path_of(key);
    uint64_t size = fs::file_size(p, ec);
    if (ec) {
      return make_error(
          ec == std::errc::no_such_file_or_directory ? ErrorCode::kNotFound : ErrorCode::kIo,
          fmt::format("local: {}: {}", key, ec.message()));
    }
    ObjectInfo info{std::string(key), size, {}};
    if (auto side = io::read_file(p + std::string(kSideSuffix)); side) {
      info.sha512 = side->substr(0, side->find('\n'));
    }
    return info;
  }

  Result<void> get(std::string_view key, uint64_t offset, std::optional<uint64_t> length,
                   const Sink& sink) override {
    PGM_TRY(check_key(key));
    std::string p = path_of(key);
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      return make_errno_error(fmt::format("local: open {}", key), errno);
    }
    std::vector<uint8_t> buf(1 << 20);
    uint64_t left = length.value_or(UINT64_MAX);
    uint64_t pos = offset;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      PGM_ASSIGN_OR_RETURN(
          size_t n, io::pread_full(fd.get(), std::span(buf.data(), want), pos, "local: read", key));
      if (n == 0) {
        break;
      }
      PGM_TRY(sink(std::span<const uint8_t>(buf.data(), n)));
      pos += n;
      left -= n;
    }
    return {};
  }

  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override {
    std::vector<ObjectInfo> out;
    std::error_code ec;
    if (!fs::exists(root_, ec)) {
      return out;
    }
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) {
        continue;
      }
      std::string rel = it->path().lexically_relative(root_).string();
      bool side =
          rel.size() > kSideSuffix.size() &&
          rel.compare(rel.size() - kSideSuffix.size(), kSideSuffix.size(), kSideSuffix) == 0;
      if (side || rel.find(".tmp.") != std::string::npos || rel.rfind(prefix, 0) != 0) {
        continue;
      }
      auto info = head(rel);
      if (info) {
        out.push_back(std::move(*info));
      }
    }
    if (ec) {
      return make_error(ErrorCode::kIo, fmt::format("local: list {}: {}", root_, ec.message()));
    }
    std::sort(out.begin(), out.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  Result<void> remove(std::span<const std::string> keys) override {
    for (const std::string& key : keys) {
      PGM_TRY(check_key(key));
      for (const std::string& p : {path_of(key), path_of(key) + std::string(kSideSuffix)}) {
        if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
          return make_errno_error(fmt::format("local: remove {}", key), errno);
        }
      }
    }
    return {};
  }

 private:
  std::string path_of(std::string_view key) const { return root_ + "/" + std::string(key); }

  std::string root_;
};

}  // namespace

Result<std::unique_ptr<Storage>> make_local_storage(const std::string& root) {
  if (root.empty()) {
    return make_error(ErrorCode::kConfig, "local storage: the directory is empty");
  }
  PGM_TRY(io::make_directories(root, 0700));
  return std::unique_ptr<Storage>(new LocalStorage(root));
}

}  // namespace pgm::storage

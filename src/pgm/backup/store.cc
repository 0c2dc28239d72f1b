#include "pgm/backup/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "pgm/backup/crc32c.h"
#include "pgm/backup/info.h"
#include "pgm/compress/stream.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/format.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"

namespace pgm::backup {

namespace {

using Clock = std::chrono::steady_clock;

// Stored files from this size on have their write-back started when they are closed.
constexpr uint64_t kWritebackHintBytes = uint64_t{1} << 20;

bool parallel_compression(compress::Algorithm a) {
  // bzip2 readers (BZ2_bzRead in pgmoneta) stop at the end of the first stream, so a bzip2
  // file stays one stream, compressed in order.
  return a != compress::Algorithm::kNone && a != compress::Algorithm::kBzip2;
}

// Compression suffix, then ".aes" when encrypted (reference §10.1).
std::string suffix_of(compress::Algorithm algorithm, crypto::AesMode encryption) {
  std::string suffix(compress::file_suffix(algorithm));
  if (encryption != crypto::AesMode::kNone) {
    suffix += ".aes";
  }
  return suffix;
}

}  // namespace

struct FileJob;

struct Block {
  FileJob* job = nullptr;
  size_t index = 0;
  bool last = false;
  std::vector<uint8_t> raw;
  std::vector<uint8_t> packed;  // compressed form when compressed in parallel
  bool compressed = false;
};

// A file while it is being stored; it joins the list once written and closed.
struct InFlightFile {
  std::string manifest_path;
  std::string stored_base;  // without the suffix
  std::string stored_path;  // with it
  uint64_t size = 0;
  uint64_t stored_size = 0;
  crypto::Sha512Digest sha512{};
  crypto::Sha512Digest stored_sha512{};
  std::optional<uint32_t> crc32c;
  std::vector<incremental::BlockHash> block_hashes;
  bool has_block_hashes = false;
  bool linked = false;
  bool plain = false;

  NewStoredFile view() const {
    return {.manifest_path = manifest_path,
            .stored_base = stored_base,
            .plain = plain,
            .size = size,
            .stored_size = stored_size,
            .sha512 = sha512,
            .stored_sha512 = stored_sha512,
            .crc32c = crc32c,
            .block_hashes = block_hashes,
            .has_block_hashes = has_block_hashes,
            .linked = linked};
  }
};

struct FileJob {
  InFlightFile file;
  bool plain = false;
  // Ordered stage; guarded by Impl::mutex except for the members the writer token owns
  // (fd, hash, cipher, stream, scratch), which only the token holder touches.
  size_t next_to_write = 0;
  bool writer_active = false;
  std::map<size_t, std::unique_ptr<Block>> ready;
  UniqueFd fd;
  std::optional<crypto::Sha512> stored_hash;  // only when stored bytes differ from the plaintext
  std::optional<crypto::AesGcmEncryptor> cipher;
  std::optional<compress::StreamCompressor> stream;
  std::vector<uint8_t> scratch;
};

struct FileStore::Impl {
  std::string dir;
  StoreOptions options;
  std::string suffix;
  bool parallel = false;

  std::mutex mutex;
  std::condition_variable work_cv;   // workers wait for blocks
  std::condition_variable space_cv;  // the producer waits for room
  std::deque<std::unique_ptr<Block>> queue;
  std::vector<std::unique_ptr<Block>> free_blocks;
  size_t in_flight = 0;
  size_t open_files = 0;
  bool stopping = false;
  std::optional<Error> error;
  StoredFileList done;
  std::vector<std::thread> threads;
  StoreTimings timings;

  // Producer side (one thread).
  std::unique_ptr<FileJob> current_owner;  // moved to `jobs` at end_file
  FileJob* current = nullptr;
  std::unique_ptr<Block> filling;
  size_t next_index = 0;
  // The plaintext digests are computed here, on the producer's thread, as the bytes arrive:
  // that thread only receives and parses otherwise, and a file's digest is sequential anyway,
  // so the workers are left with compression, encryption and writes.
  std::optional<crypto::Sha512> hash;
  uint32_t crc = kCrc32cInit;
  // XXH3-128 per 8 KB block of the current file, when it may become incremental: some 20 times
  // cheaper than the SHA-512 above, so it stays on the same thread.
  incremental::BlockHasher block_hasher;
  bool hashing_blocks = false;
  uint64_t current_bytes = 0;  // of the current file, as accepted by write()
  std::chrono::duration<double> hash_time{0};
  std::set<std::string> known_dirs;
  std::vector<std::unique_ptr<FileJob>> jobs;  // alive until their last block is written

  void worker();
  void fail(Error e);  // requires mutex
  Result<void> check();
  std::unique_ptr<Block> take_block();
  Result<void> submit(bool last);
  Result<void> write_block(FileJob& job, Block& block, StoreTimings& t);
  Result<void> close_file(FileJob& job, StoreTimings& t);
  // end_file's shortcut: hardlinks the current file to StoreOptions::identical's answer.
  // True when it did (the file is done, its block released).
  bool link_identical();
  void release(std::unique_ptr<Block> block);  // requires mutex
};

FileStore::FileStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FileStore::~FileStore() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->work_cv.notify_all();
  impl_->space_cv.notify_all();
  for (std::thread& t : impl_->threads) {
    t.join();
  }
}

Result<std::unique_ptr<FileStore>> FileStore::create(std::string backup_dir, StoreOptions options) {
  if (options.encryption != crypto::AesMode::kNone && options.key == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "encryption needs the master key");
  }
  if (options.workers < 1) {
    options.workers = 1;
  }
  if (options.block_size < 4096) {
    options.block_size = 4096;
  }
  if (options.max_blocks_in_flight == 0) {
    options.max_blocks_in_flight = static_cast<size_t>(options.workers) * 4 + 4;
  }
  options.level = compress::clamp_level(options.algorithm, options.level);
  auto impl = std::make_unique<Impl>();
  impl->dir = std::move(backup_dir);
  impl->options = options;
  impl->suffix = suffix_of(options.algorithm, options.encryption);
  impl->parallel = parallel_compression(options.algorithm);
  // The digests of the stored bytes wait in a spool inside the backup directory.
  impl->done = StoredFileList(impl->suffix, impl->dir);
  std::unique_ptr<FileStore> store(new FileStore(std::move(impl)));
  for (int i = 0; i < options.workers; ++i) {
    store->impl_->threads.emplace_back([s = store->impl_.get()] { s->worker(); });
  }
  return store;
}

void FileStore::Impl::fail(Error e) {
  if (!error) {
    error = std::move(e);
  }
  work_cv.notify_all();
  space_cv.notify_all();
}

Result<void> FileStore::Impl::check() {
  std::lock_guard lock(mutex);
  if (error) {
    return tl::unexpected(*error);
  }
  return {};
}

std::unique_ptr<Block> FileStore::Impl::take_block() {
  std::unique_lock lock(mutex);
  space_cv.wait(lock, [&] { return in_flight < options.max_blocks_in_flight || error; });
  ++in_flight;
  std::unique_ptr<Block> b;
  if (!free_blocks.empty()) {
    b = std::move(free_blocks.back());
    free_blocks.pop_back();
  } else {
    b = std::make_unique<Block>();
    b->raw.reserve(options.block_size);
  }
  b->raw.clear();
  b->compressed = false;
  b->last = false;
  return b;
}

void FileStore::Impl::release(std::unique_ptr<Block> block) {
  block->job = nullptr;
  free_blocks.push_back(std::move(block));
  --in_flight;
  space_cv.notify_one();
}

Result<void> FileStore::Impl::submit(bool last) {
  if (!filling) {
    filling = take_block();
  }
  filling->job = current;
  filling->index = next_index++;
  filling->last = last;
  {
    std::lock_guard lock(mutex);
    if (error) {
      release(std::move(filling));
      return tl::unexpected(*error);
    }
    queue.push_back(std::move(filling));
  }
  work_cv.notify_one();
  return {};
}

Result<void> FileStore::begin_file(const std::string& stored_base, std::string manifest_path,
                                   bool plain) {
  Impl& s = *impl_;
  PGM_TRY(s.check());
  if (s.current != nullptr) {
    return make_error(ErrorCode::kInternal, "begin_file while a file is open");
  }
  std::string parent = io::parent_directory(stored_base);
  if (!parent.empty() && parent != "." && !s.known_dirs.contains(parent)) {
    PGM_TRY(io::make_directories(s.dir + "/" + parent, 0700));
    s.known_dirs.insert(parent);
  }
  auto job = std::make_unique<FileJob>();
  job->plain = plain;
  job->file.plain = plain;
  job->file.manifest_path = std::move(manifest_path);
  job->file.stored_base = stored_base;
  job->file.stored_path = plain ? stored_base : stored_base + s.suffix;
  s.current = job.get();
  s.current_owner = std::move(job);
  s.next_index = 0;
  if (!s.hash) {
    PGM_ASSIGN_OR_RETURN(crypto::Sha512 h, crypto::Sha512::create());
    s.hash.emplace(std::move(h));
  }
  s.hash->reset();
  s.crc = kCrc32cInit;
  s.current_bytes = 0;
  s.hashing_blocks = s.options.block_hashes && !plain &&
                     incremental::parse_relation_path(s.current->file.manifest_path).has_value();
  return {};
}

Result<void> FileStore::write(std::span<const uint8_t> data) {
  Impl& s = *impl_;
  if (s.current == nullptr) {
    return make_error(ErrorCode::kInternal, "write without an open file");
  }
  auto t0 = Clock::now();
  s.hash->update(data);
  if (s.options.crc32c) {
    s.crc = crc32c_update(s.crc, data);
  }
  if (s.hashing_blocks) {
    s.block_hasher.update(data);
  }
  s.current_bytes += data.size();
  s.hash_time += Clock::now() - t0;
  while (!data.empty()) {
    if (!s.filling) {
      s.filling = s.take_block();
    }
    size_t room = s.options.block_size - s.filling->raw.size();
    size_t n = std::min(room, data.size());
    s.filling->raw.insert(s.filling->raw.end(), data.begin(), data.begin() + n);
    data = data.subspan(n);
    bytes_in_.fetch_add(n, std::memory_order_relaxed);
    if (s.filling->raw.size() == s.options.block_size) {
      PGM_TRY(s.submit(false));
    }
  }
  return {};
}

Result<void> FileStore::end_file() {
  Impl& s = *impl_;
  if (s.current == nullptr) {
    return make_error(ErrorCode::kInternal, "end_file without an open file");
  }
  s.current->file.sha512 = s.hash->final();
  if (s.options.crc32c) {
    s.current->file.crc32c = crc32c_final(s.crc);
  }
  if (s.hashing_blocks) {
    // The size is known only now (every byte has passed write()).
    std::vector<incremental::BlockHash> hashes = s.block_hasher.finish();
    if (incremental::incremental_candidate(s.current->file.manifest_path, s.current_bytes)) {
      s.current->file.block_hashes = std::move(hashes);
      s.current->file.has_block_hashes = true;
    }
    s.hashing_blocks = false;
  }
  if (s.link_identical()) {
    s.current = nullptr;
    s.current_owner.reset();
    return {};
  }
  {
    std::lock_guard lock(s.mutex);
    ++s.open_files;
    s.jobs.push_back(std::move(s.current_owner));
  }
  Result<void> r = s.submit(true);
  s.current = nullptr;
  return r;
}

bool FileStore::Impl::link_identical() {
  InFlightFile& file = current->file;
  // Only while nothing of the file went to the workers: its one block is still here.
  if (!options.identical || current->plain || next_index != 0) {
    return false;
  }
  std::optional<IdenticalFile> same = options.identical(file.manifest_path, file.sha512);
  if (!same) {
    return false;
  }
  // A plain link(): nothing exists under the new name yet, so there is no rename over a file
  // (a rename over a just-written file waits for its write-back: milliseconds per file).
  // Any failure (another file system, EMLINK, a vanished target) stores the file as usual.
  const std::string full = dir + "/" + file.stored_path;
  if (::link(same->path.c_str(), full.c_str()) != 0) {
    return false;
  }
  file.size = current_bytes;
  file.stored_size = same->stored_size;
  file.stored_sha512 = same->stored_sha512;
  file.linked = true;
  std::lock_guard lock(mutex);
  if (filling) {
    release(std::move(filling));
  }
  if (Result<void> added = done.add(file.view()); !added) {
    fail(added.error());
  }
  return true;
}

Result<StoredFileList> FileStore::finish() {
  Impl& s = *impl_;
  if (s.current != nullptr) {
    return make_error(ErrorCode::kInternal, "finish while a file is open");
  }
  std::unique_lock lock(s.mutex);
  s.space_cv.wait(lock, [&] { return (s.open_files == 0 && s.queue.empty()) || s.error; });
  s.stopping = true;
  std::optional<Error> failed = s.error;
  lock.unlock();
  s.work_cv.notify_all();
  for (std::thread& t : s.threads) {
    t.join();
  }
  s.threads.clear();
  timings_ = s.timings;
  timings_.hash += s.hash_time;
  if (failed) {
    return tl::unexpected(*failed);
  }
  PGM_TRY(s.done.seal());
  return std::move(s.done);
}

Result<void> FileStore::Impl::write_block(FileJob& job, Block& block, StoreTimings& t) {
  const std::string& path = job.file.stored_path;
  if (!job.fd) {
    std::string full = dir + "/" + path;
    int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return make_errno_error(fmt::format("create {}", full), errno);
    }
    job.fd = UniqueFd(fd);
    if (!job.plain && (options.algorithm != compress::Algorithm::kNone ||
                       options.encryption != crypto::AesMode::kNone)) {
      auto stored_hash = crypto::Sha512::create();
      if (!stored_hash) {
        return tl::unexpected(stored_hash.error());
      }
      job.stored_hash.emplace(std::move(*stored_hash));
    }
    if (!job.plain && options.encryption != crypto::AesMode::kNone) {
      auto cipher = crypto::AesGcmEncryptor::create(*options.key, options.encryption);
      if (!cipher) {
        return tl::unexpected(cipher.error().with_context(path));
      }
      job.cipher.emplace(std::move(*cipher));
    }
    if (!job.plain && !parallel && options.algorithm != compress::Algorithm::kNone) {
      auto stream = compress::StreamCompressor::create(options.algorithm, options.level);
      if (!stream) {
        return tl::unexpected(stream.error().with_context(path));
      }
      job.stream.emplace(std::move(*stream));
    }
  }
  auto t1 = Clock::now();
  job.file.size += block.raw.size();

  // What to store for this block, before encryption.
  std::span<const uint8_t> out = block.raw;
  std::vector<uint8_t> streamed;
  if (!job.plain) {
    if (block.compressed) {
      out = block.packed;
    } else if (job.stream) {
      std::vector<uint8_t>& buf = job.scratch;
      buf.clear();
      auto append = [&buf](std::span<const uint8_t> b) -> Result<void> {
        buf.insert(buf.end(), b.begin(), b.end());
        return {};
      };
      PGM_TRY(job.stream->update(block.raw, append));
      if (block.last) {
        PGM_TRY(job.stream->finish(append));
      }
      streamed.swap(buf);
      out = streamed;
      t.compression += Clock::now() - t1;
    }
  }
  if (job.cipher) {
    auto t2 = Clock::now();
    std::vector<uint8_t>& buf = job.scratch;
    buf.clear();
    PGM_TRY(job.cipher->update(out, buf));
    if (block.last) {
      PGM_TRY(job.cipher->finish(buf));
    }
    out = buf;
    t.encryption += Clock::now() - t2;
  }
  auto t3 = Clock::now();
  if (job.stored_hash) {
    job.stored_hash->update(out);
    t.hash += Clock::now() - t3;
    t3 = Clock::now();
  }
  PGM_TRY(io::write_all(job.fd.get(), out, "write", path));
  t.write += Clock::now() - t3;
  job.file.stored_size += out.size();
  if (!streamed.empty()) {
    job.scratch.swap(streamed);  // keep the capacity
  }
  if (block.last) {
    return close_file(job, t);
  }
  return {};
}

Result<void> FileStore::Impl::close_file(FileJob& job, StoreTimings&) {
  job.file.stored_sha512 = job.stored_hash ? job.stored_hash->final() : job.file.sha512;
  // Start the write-back of a large file now, so the backup's final syncfs has little left to
  // wait for; an error here is only a missed hint (syncfs reports real write errors). Small
  // files are left to that syncfs, which writes them in a few large requests: one request per
  // small file costs more than it saves (a cluster of 30,000 one-row tables).
  if (job.file.stored_size >= kWritebackHintBytes) {
    (void)::sync_file_range(job.fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  if (::close(job.fd.release()) != 0) {
    return make_errno_error(fmt::format("close {}", job.file.stored_path), errno);
  }
  return {};
}

void FileStore::Impl::worker() {
  StoreTimings t;
  std::optional<compress::Compressor> compressor;
  if (parallel) {
    compressor.emplace(options.algorithm, options.level);
  }
  std::unique_lock lock(mutex);
  while (true) {
    work_cv.wait(lock, [&] { return !queue.empty() || stopping || error; });
    if (error || (stopping && queue.empty())) {
      break;
    }
    std::unique_ptr<Block> block = std::move(queue.front());
    queue.pop_front();
    FileJob* job = block->job;
    lock.unlock();

    if (parallel && !job->plain) {
      auto t0 = Clock::now();
      Result<void> r;
      if (block->raw.empty() && block->index > 0) {
        // The end of a file whose size is a multiple of the block size: the blocks before are
        // complete streams already, and an empty one after them would be an lz4 block that
        // pgmoneta's `decompress` refuses (it writes none there either).
        block->packed.clear();
      } else {
        r = compressor->compress_into(block->raw, block->packed);
      }
      t.compression += Clock::now() - t0;
      lock.lock();
      if (!r) {
        fail(r.error().with_context(job->file.stored_path));
        release(std::move(block));
        break;
      }
      block->compressed = true;
    } else {
      lock.lock();
    }

    job->ready.emplace(block->index, std::move(block));
    if (job->writer_active) {
      continue;  // the token holder will write it
    }
    job->writer_active = true;
    bool finished_file = false;
    while (!error) {
      auto it = job->ready.find(job->next_to_write);
      if (it == job->ready.end()) {
        break;
      }
      std::unique_ptr<Block> b = std::move(it->second);
      job->ready.erase(it);
      lock.unlock();
      Result<void> r = write_block(*job, *b, t);
      lock.lock();
      bool last = b->last;
      release(std::move(b));
      if (!r) {
        fail(r.error());
        break;
      }
      ++job->next_to_write;
      if (last) {
        finished_file = true;
        break;
      }
    }
    job->writer_active = false;
    if (finished_file) {
      if (Result<void> added = done.add(job->file.view()); !added) {
        fail(added.error());
      }
      auto owned = std::find_if(jobs.begin(), jobs.end(), [job](const std::unique_ptr<FileJob>& j) {
        return j.get() == job;
      });
      if (owned != jobs.end()) {
        jobs.erase(owned);
      }
      --open_files;
      space_cv.notify_all();
    }
  }
  timings.hash += t.hash;
  timings.compression += t.compression;
  timings.encryption += t.encryption;
  timings.write += t.write;
}

}  // namespace pgm::backup

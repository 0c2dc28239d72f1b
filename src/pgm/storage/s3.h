// S3Storage: the Storage interface over Amazon S3 and compatible services (MinIO, Garage,
// s3rver) with libcurl and AWS Signature Version 4. Not thread-safe: one object per thread
// (it owns one curl handle, reused so connections are kept alive).
//
// Requests carry the SHA-256 of their body in x-amz-content-sha256 (bodies are at most one part,
// already in memory), so the service checks the payload as well as the headers. Objects up to
// part_size go up in one PUT; larger ones in a multipart upload, one part in memory at a time,
// aborted on failure. Retryable failures (connection errors, timeouts, 429/500/502/503/504,
// SlowDown) are retried with exponential backoff and full jitter, re-reading the body from the
// file. Blocking: every call performs network I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "pgm/core/result.h"
#include "pgm/storage/storage.h"

namespace pgm::storage {

struct S3Options {
  // Host name or address ("s3.amazonaws.com", "127.0.0.1"); empty = s3.<region>.amazonaws.com.
  std::string endpoint{};
  int port = 0;  // 0 = 443 with TLS, 80 without
  bool use_tls = true;
  std::string region = "us-east-1";
  std::string access_key_id{};
  std::string secret_access_key{};
  std::string bucket{};
  std::string base_dir{};        // key prefix, '/'-separated, without leading or trailing '/'
  std::string storage_class{};   // x-amz-storage-class when not empty
  bool path_style = false;       // host/bucket/key (custom endpoints) instead of bucket.host/key
  uint64_t part_size = 8 << 20;  // bytes; 5 MiB .. 5 GiB
  std::string ca_file{};         // PEM bundle for TLS; empty = system default
  // Connect timeout, and the longest a transfer may stall (no byte moving) before it fails.
  std::chrono::seconds timeout{60};

  // Retries of retryable failures: attempts in all (1 = no retry), then sleeps drawn uniformly
  // from [0, min(retry_cap, retry_base * 2^n)).
  int max_attempts = 4;
  std::chrono::milliseconds retry_base{100};
  std::chrono::milliseconds retry_cap{2000};
  // max-keys of each ListObjectsV2 page (1..1000); small values exercise pagination in tests.
  int list_page_size = 1000;
};

// Validates the options (errors are kConfig and name the key: "s3_bucket is empty") and makes
// the engine. No request is sent yet.
Result<std::unique_ptr<Storage>> make_s3_storage(S3Options options);

}  // namespace pgm::storage

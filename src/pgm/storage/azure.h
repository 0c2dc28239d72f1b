// AzureStorage: the Storage engine for Azure Blob Storage (block blobs), over libcurl with
// SharedKey signing (azure_auth.h). Works with the real service
// (https://<account>.blob.core.windows.net/<container>/<blob>) and with the Azurite emulator,
// whose URLs are path-style (http://127.0.0.1:<port>/<account>/<container>/<blob>).
//
// Blob names are base_dir + "/" + key. put_file sends files up to block_size with one Put Blob,
// larger ones as Put Block calls streamed from the file (no block is held in memory) and a
// final Put Block List, so the blob appears only once complete; the SHA-512 is stored as
// x-ms-meta-sha512. Uncommitted blocks of a failed upload are discarded by the service.
// remove() deletes blob by blob (the multipart/mixed batch API is not used).
//
// Retryable failures (connection errors, stalls, 408/429/500/502/503/504) are retried with
// exponential backoff and full jitter; uploads re-read the file, downloads resume after the
// bytes already given to the sink. Calls block. Not thread-safe: one object per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "pgm/core/result.h"
#include "pgm/storage/storage.h"

namespace pgm::storage {

struct AzureOptions {
  std::string account;     // azure_storage_account
  std::string container;   // azure_container
  std::string shared_key;  // azure_shared_key, base64
  std::string base_dir;    // azure_base_dir: blob name prefix ("" = container root)
  // azure_endpoint: empty = <account>.blob.core.windows.net. An IP address or "localhost"
  // (Azurite) selects path-style URLs with the account as first path segment.
  std::string endpoint;
  int port = 0;  // azure_port; 0 = 443 with TLS, 80 without
  bool use_tls = true;
  uint64_t block_size = 8 << 20;  // bytes per Put Block; also the single-Put Blob limit
  // Connect timeout, and the longest a transfer may make no progress before it is abandoned.
  std::chrono::seconds timeout{60};
  // Retries of retryable failures: attempts in all, then the backoff base and cap.
  int max_attempts = 4;
  std::chrono::milliseconds retry_base{100};
  std::chrono::milliseconds retry_cap{2000};
  int list_page_size = 0;  // List Blobs maxresults; 0 = the service's default (5000)
};

// Validates the options (errors are kConfig and name the configuration key) and returns the
// engine. No request is made.
Result<std::unique_ptr<Storage>> make_azure_storage(AzureOptions options);

// Creates the container (first-time setup, tests). An existing container is not an error.
Result<void> create_azure_container(const AzureOptions& options);

}  // namespace pgm::storage

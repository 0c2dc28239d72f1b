// LocalStorage: the Storage interface over a directory of this machine (a second disk, an NFS
// or other mounted file system), and the engine the transfer tests run on. Objects are files
// under `root`; each has a "<key>.sha512" side file. put_file writes a temp name, fsyncs, renames
// and fsyncs the directory, then writes the side file the same way. Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "pgm/storage/storage.h"

namespace pgm::storage {

// `root` is created (0700) when missing.
Result<std::unique_ptr<Storage>> make_local_storage(const std::string& root);

}  // namespace pgm::storage

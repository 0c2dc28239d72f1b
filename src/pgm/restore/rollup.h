// Rolling a parent backup into its incremental child, so the parent can go (delete,
// retention) while the child still restores identically:
//   - a full parent: every INCREMENTAL file of the child is rebuilt whole; the child becomes
//     a full backup (TYPE=0, no PARENT, no INCREMENTAL FROM lines);
//   - an incremental parent: each INCREMENTAL file of the child absorbs the parent's blocks
//     below its truncation length (incremental/reconstruct.h plan_merge), or is rebuilt whole
//     where the parent held the file whole; the child takes the parent's PARENT and
//     INCREMENTAL FROM lines.
// The child's other files, its block map and PostgreSQL's backup_manifest do not change.
//
// Crash-safe by building beside and swapping by rename:
//   1. <root>/.rollup-<child>/ gets the new child: unchanged files hardlinked, new files
//      stored (same compression and encryption), new metadata; syncfs; then the marker
//      ROLLUP ("parent=<label>") written atomically: the new copy is complete;
//   2. <child> is renamed to .rollup-old-<child>, the new copy to <child>, root fsynced;
//   3. the parent is deleted (delete_backup: links other backups hold into it are moved
//      first), .rollup-old-<child> removed, the marker removed.
// complete_rollups() finishes or undoes what a crash interrupted: a copy without its marker
// is removed (the old chain is untouched), a marked one is swapped in and finished. At every
// step the newest backup of the chain restores.
// Blocking; the caller holds the repository lock.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::restore {

struct RollupOptions {
  std::string root;    // <base_dir>/<server>/backup
  std::string parent;  // the backup to remove
  std::string child;   // its incremental child
  const crypto::MasterKey* key = nullptr;
  int level = 3;  // compression level of rebuilt files
  int workers = 1;
  // Test hook: called after each numbered step (0: the first rebuilt or merged file stored
  // in the new copy, which is not marked yet; not called when the child has no INCREMENTAL
  // file; 1: new copy built and marked, 2: swapped, 3: parent deleted); a false return stops
  // there as a crash would, leaving what was written.
  std::function<bool(int step)> after_step;
};

struct RollupResult {
  size_t rebuilt_whole = 0;  // INCREMENTAL files that became whole files
  size_t merged = 0;         // INCREMENTAL files merged with the parent's
  bool child_became_full = false;
};

Result<RollupResult> roll_up(const RollupOptions& options);

// Finishes or undoes interrupted rollups under `root`. Returns how many it touched.
Result<size_t> complete_rollups(const std::string& root);

}  // namespace pgm::restore

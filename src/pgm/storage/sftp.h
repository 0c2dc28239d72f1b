// SftpStorage: the "ssh" storage engine, a Storage over SFTP (libssh) on an OpenSSH server.
// Not thread-safe: one object (one SSH session) per thread.
//
// Layout on the server: "<base_dir>/<key>" holds the object and "<key>.pgm-sha512" its SHA-512
// (lowercase hex and "\n"). Both are written as "<name>.tmp.<pid>" (directories 0700, files
// 0600), fsynced when the server offers fsync@openssh.com, then renamed to the final name, so a
// reader never sees half an object under its key. The object goes first, its digest second.
// libssh 0.10 cannot send posix-rename@openssh.com, so replacing an existing object removes it
// just before the rename: for that instant the key is absent (never partial).
//
// Security: the server's host key must already be in known_hosts (KNOWN_OK); a changed key or a
// key of another type is refused (kPermission). With accept_new_host an unknown host is trusted
// on first use and added to known_hosts. Authentication is by key pair only.
//
// Errors: "ssh: <operation> <key>: <libssh/SFTP cause>". Authentication and host key problems
// are kPermission, a missing object kNotFound, a lost or refused connection kUnavailable and a
// deadline kTimeout (both retryable); the rest kIo. Retryable failures are retried on a fresh
// session (attempts, with exponential backoff and jitter); get resumes where it stopped.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "pgm/core/result.h"
#include "pgm/storage/storage.h"

namespace pgm::storage {

struct SftpOptions {
  std::string hostname;
  int port = 22;
  std::string username;
  std::string base_dir;          // remote directory; created when missing
  std::string public_key_file;   // default ~/.ssh/id_rsa.pub (home from the passwd entry)
  std::string private_key_file;  // default ~/.ssh/id_rsa (no passphrase)
  // ssh_ciphers: comma list, pgmoneta words (aes-256-ctr, aes-128-cbc, ...) or OpenSSH names
  // (aes256-ctr, chacha20-poly1305@openssh.com, ...); empty = libssh's defaults.
  std::string ciphers;
  std::string known_hosts_file;  // default ~/.ssh/known_hosts
  bool accept_new_host = false;  // trust on first use; off by default
  std::chrono::seconds timeout{30};
  // Tries per operation for retryable errors (>= 1), and the first backoff delay (doubles).
  int attempts = 3;
  std::chrono::milliseconds retry_delay{200};
};

// Connects, checks the host key, authenticates and opens SFTP. Blocks up to options.timeout
// per network step. Errors: kConfig (bad options, unreadable key file), kPermission (host key,
// authentication), kUnavailable/kTimeout (cannot reach the server), kIo.
Result<std::unique_ptr<Storage>> make_sftp_storage(SftpOptions options);

// Maps an ssh_ciphers list to OpenSSH cipher names ("aes-256-ctr, aes-128-cbc" ->
// "aes256-ctr,aes128-cbc"). kConfig for an empty entry or a name outside libssh's list.
Result<std::string> openssh_cipher_list(std::string_view ciphers);

}  // namespace pgm::storage

// Blocking management client used by pgmoneta-cli: connect to the daemon's unix socket, send
// one request frame, read one response frame. Remote (TCP + SCRAM) management is a later
// issue. Functions are thread-safe; a descriptor is used by one thread at a time.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/aes.h"
#include "pgm/management/protocol.h"

namespace pgm::management {

// "<socket_dir>/.s.pgmoneta".
std::string socket_path(const std::string& socket_dir);

// Connects to "<socket_dir>/.s.pgmoneta". Failure: kUnavailable (kNotFound when the socket
// file does not exist), message "no pgmoneta daemon is listening on <path>: <strerror>".
Result<UniqueFd> connect_unix(const std::string& socket_dir);

// Writes doc as one frame (compression/encryption as given; key needed for encryption), then
// reads one whole response frame of at most max_length bytes and decodes it with the bytes
// the response carries. A zero timeout means no deadline (workflows such as backup run for
// hours); otherwise the whole exchange must finish within it (kTimeout). A peer closing early
// or sending a bad frame -> kProtocol; decoding errors as decode_payload(). Blocks; never
// throws. SIGPIPE is avoided with MSG_NOSIGNAL.
Result<nlohmann::json> exchange(int fd, const nlohmann::json& doc, compress::Algorithm compression,
                                crypto::AesMode encryption, const crypto::MasterKey* key,
                                std::chrono::milliseconds timeout,
                                uint32_t max_length = kDefaultMaxFrameLength);

}  // namespace pgm::management

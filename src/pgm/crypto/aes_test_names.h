// Test-only: the AES-GCM modes an AesMode-parameterised suite runs over, and its test names
// ("aes256gcm", ...), shared by crypto_test.cc and aes_stream_test.cc.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "pgm/crypto/aes.h"

namespace pgm::crypto {

// The three AES-GCM modes, strongest first.
inline auto all_aes_gcm_modes() {
  return ::testing::Values(AesMode::kAes256Gcm, AesMode::kAes192Gcm, AesMode::kAes128Gcm);
}

// The mode's name without dashes: gtest names allow only letters, digits and '_'.
inline std::string aes_mode_test_name(const ::testing::TestParamInfo<AesMode>& p) {
  std::string name(aes_mode_name(p.param));
  std::erase(name, '-');
  return name;
}

}  // namespace pgm::crypto

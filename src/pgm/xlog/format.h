// The on-disk layout of PostgreSQL's write-ahead log, majors 13 to 18: page headers, record
// headers, block reference headers, the resource manager ids. Constants only, thread-safe.
//
// Sources: PostgreSQL's public headers src/include/access/xlog_internal.h (pages),
// xlogrecord.h (records and block references), rmgrlist.h (resource managers). All integers
// are stored in the server's byte order; we read little-endian (every platform we run on).
// docs/xlog.md restates the byte grammar in our words.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgm::xlog {

// XLOG_PAGE_MAGIC: changes with each major whose WAL format changes.
inline constexpr uint16_t kPageMagic13 = 0xD106;
inline constexpr uint16_t kPageMagic14 = 0xD10D;
inline constexpr uint16_t kPageMagic15 = 0xD110;
inline constexpr uint16_t kPageMagic16 = 0xD113;
inline constexpr uint16_t kPageMagic17 = 0xD116;
inline constexpr uint16_t kPageMagic18 = 0xD118;
// The major (13..18) that writes `magic`, 0 for an unknown magic.
int major_for_page_magic(uint16_t magic);
// The magic PostgreSQL `major` writes, 0 when we do not know that major.
uint16_t page_magic_for_major(int major);

// Page header: magic u16, info u16, timeline u32, page address u64, remaining length u32,
// padded to 8 (short); the long header adds system id u64, segment size u32, page size u32.
inline constexpr size_t kShortPageHeaderSize = 24;
inline constexpr size_t kLongPageHeaderSize = 40;
// xlp_info bits.
inline constexpr uint16_t kPageFirstIsContRecord = 0x0001;
inline constexpr uint16_t kPageLongHeader = 0x0002;
inline constexpr uint16_t kPageBackupRemovable = 0x0004;
inline constexpr uint16_t kPageFirstIsOverwriteContRecord = 0x0008;
inline constexpr uint16_t kPageAllFlags = 0x000F;

// Record header: total length u32, xid u32, previous record u64, info u8, rmid u8, 2 bytes of
// padding, CRC-32C u32. The CRC covers the bytes after the header, then the header's first
// 20 bytes (everything before the CRC).
inline constexpr size_t kRecordHeaderSize = 24;
inline constexpr size_t kRecordCrcOffset = 20;
// Records start at 8-byte boundaries (MAXALIGN).
inline constexpr uint64_t kRecordAlignment = 8;
// The low four bits of xl_info belong to the WAL machinery, the high four to the rmgr.
inline constexpr uint8_t kInfoMask = 0x0F;
// PostgreSQL refuses records larger than this (XLogRecordMaxSize in 16+; older majors' limit
// is the allocation limit, 1 GB, which no valid record reaches either).
inline constexpr uint32_t kMaxRecordLength = 1020u * 1024u * 1024u;

// Block ids: 0..32 are block references; these mark the other headers.
inline constexpr uint8_t kMaxBlockId = 32;
inline constexpr uint8_t kBlockIdDataShort = 255;
inline constexpr uint8_t kBlockIdDataLong = 254;
inline constexpr uint8_t kBlockIdOrigin = 253;
inline constexpr uint8_t kBlockIdToplevelXid = 252;  // 14+

// Block reference header: id u8, fork and flags u8, data length u16; then an image header
// (length u16, hole offset u16, info u8, and a hole length u16 when the image is both holed
// and compressed), the relation (tablespace u32, database u32, relfilenode u32) unless
// kBlockSameRel, the block number u32.
inline constexpr uint8_t kBlockForkMask = 0x0F;
inline constexpr uint8_t kBlockHasImage = 0x10;
inline constexpr uint8_t kBlockHasData = 0x20;
inline constexpr uint8_t kBlockWillInit = 0x40;
inline constexpr uint8_t kBlockSameRel = 0x80;

// bimg_info bits. 13 and 14: hole, compressed (pglz), apply.
inline constexpr uint8_t kImageHasHole = 0x01;
inline constexpr uint8_t kImageIsCompressed14 = 0x02;
inline constexpr uint8_t kImageApply14 = 0x04;
// 15+: hole, apply, then one bit per compression method.
inline constexpr uint8_t kImageApply15 = 0x02;
inline constexpr uint8_t kImageCompressPglz = 0x04;
inline constexpr uint8_t kImageCompressLz4 = 0x08;
inline constexpr uint8_t kImageCompressZstd = 0x10;

// The data page size (BLCKSZ) full-page images are taken of; Debian's builds use the default.
inline constexpr uint32_t kBlockSize = 8192;

// Resource manager ids (rmgrlist.h), the same in 13..18.
enum RmgrId : uint8_t {
  kRmXlog = 0,
  kRmTransaction = 1,
  kRmStorage = 2,
  kRmClog = 3,
  kRmDatabase = 4,
  kRmTablespace = 5,
  kRmMultiXact = 6,
  kRmRelMap = 7,
  kRmStandby = 8,
  kRmHeap2 = 9,
  kRmHeap = 10,
  kRmBtree = 11,
  kRmHash = 12,
  kRmGin = 13,
  kRmGist = 14,
  kRmSequence = 15,
  kRmSpGist = 16,
  kRmBrin = 17,
  kRmCommitTs = 18,
  kRmReplicationOrigin = 19,
  kRmGeneric = 20,
  kRmLogicalMessage = 21,
};
inline constexpr uint8_t kRmMaxBuiltin = 21;
// 15+: ids 128..255 are custom resource managers (extensions).
inline constexpr uint8_t kRmMinCustom = 128;

// XLOG rmgr record types (pg_control.h) that the reader itself acts on.
inline constexpr uint8_t kXlogSwitch = 0x40;
inline constexpr uint8_t kXlogOverwriteContRecord = 0xD0;

}  // namespace pgm::xlog

// SPDX-License-Identifier: GPL-2.0-or-later
// Damaged dumps: every case must end in an error that names the field and
// its offset, or open with a reported degradation — never a crash. Inputs
// are generated here (tests/fuzz/synth-vmcore.h), no binary is committed.
#include <elf.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "agent/file-source.h"
#include "agent/kernel-memory.h"
#include "formats/dump-reader.h"
#include "formats/elf-vmcore.h"
#include "tests/fuzz/synth-vmcore.h"

namespace salvage {
namespace {

using synth::Bytes;

template <typename T>
void poke(Bytes& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

std::string open_error(const Bytes& img) {
  MemorySource src(img, "bad.vmcore");
  auto r = open_dump(src);
  if (r.ok()) return "(opened)";
  return r.error().message;
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

// Offsets inside the minimal image (64-byte Ehdr, then 56-byte phdrs).
constexpr size_t kPhdr0 = 64;
size_t phdr(size_t i) { return kPhdr0 + 56 * i; }
constexpr size_t kPOffset = 8, kPFilesz = 32, kPMemsz = 40;

std::string hex(u64 v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

TEST(BadInput, SyntheticVmcoreOpens) {
  synth::Layout L;
  Bytes img = synth::build(synth::minimal_spec(), &L);
  MemorySource src(img);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto id = identify((*r)->notes());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->cpus.size(), 2u);
  ASSERT_TRUE(id->vmcoreinfo.has_value());
  EXPECT_EQ(id->vmcoreinfo->osrelease(), "6.1.0-synthetic");
  std::vector<std::byte> page(kPageSize);
  auto st = (*r)->read_page(Pfn(0x100), page);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, PageState::kData);
  EXPECT_EQ(page[5], std::byte(synth::pattern_byte(0x100005)));
}

TEST(BadInput, TruncatedInElfHeader) {
  Bytes img = synth::build(synth::minimal_spec());
  img.resize(40);
  std::string e = open_error(img);
  EXPECT_HAS(e, "ELF header");
  EXPECT_HAS(e, "at 0x0");
  EXPECT_HAS(e, "size 0x28");
}

TEST(BadInput, TruncatedInProgramHeaders) {
  Bytes img = synth::build(synth::minimal_spec());
  img.resize(phdr(1) + 10);
  std::string e = open_error(img);
  EXPECT_HAS(e, "program headers at e_phoff=0x40");
  EXPECT_HAS(e, "past the end");
}

TEST(BadInput, TruncatedInNotes) {
  synth::Layout L;
  Bytes img = synth::build(synth::minimal_spec(), &L);
  img.resize(L.note_offset + 100);
  std::string e = open_error(img);
  EXPECT_HAS(e, "program header 0 at 0x40");
  EXPECT_HAS(e, "PT_NOTE p_offset=" + hex(L.note_offset));
  EXPECT_HAS(e, "p_filesz=" + hex(L.note_size));
  EXPECT_HAS(e, "past the end of the file");
}

TEST(BadInput, TruncatedInPtLoad) {
  synth::Layout L;
  Bytes img = synth::build(synth::minimal_spec(), &L);
  img.resize(L.load_offset[1] + 0x100);
  std::string e = open_error(img);
  EXPECT_HAS(e, "program header 2 at " + hex(phdr(2)));
  EXPECT_HAS(e, "PT_LOAD p_offset=" + hex(L.load_offset[1]));
  EXPECT_HAS(e, "p_filesz=0x1000");
}

TEST(BadInput, PtLoadBeyondEof) {
  Bytes img = synth::build(synth::minimal_spec());
  poke<u64>(img, phdr(1) + kPOffset, img.size() + 0x1000);
  EXPECT_HAS(open_error(img), "program header 1 at " + hex(phdr(1)) + ": PT_LOAD p_offset=" + hex(img.size() + 0x1000));
  // p_offset + p_filesz wrapping around 2^64 must not pass the check.
  poke<u64>(img, phdr(1) + kPOffset, ~u64{0} - 0x10);
  EXPECT_HAS(open_error(img), "PT_LOAD p_offset=0xffffffffffffffef");
}

TEST(BadInput, FileszLargerThanMemsz) {
  Bytes img = synth::build(synth::minimal_spec());
  poke<u64>(img, phdr(2) + kPMemsz, 0x800);  // filesz stays 0x1000
  std::string e = open_error(img);
  EXPECT_HAS(e, "program header 2 at " + hex(phdr(2)));
  EXPECT_HAS(e, "p_filesz=0x1000 exceeds p_memsz=0x800");
}

TEST(BadInput, NoteWithBogusDescsz) {
  synth::Layout L;
  Bytes img = synth::build(synth::minimal_spec(), &L);
  const size_t vmcoreinfo_note = 2 * (12 + 8 + 336);  // after two PRSTATUS notes
  poke<u32>(img, L.note_offset + vmcoreinfo_note + 4, 0x7fffffff);
  MemorySource src(img);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;  // notes are opaque until identify()
  auto id = identify((*r)->notes());
  ASSERT_FALSE(id.ok());
  EXPECT_HAS(id.error().message, "ELF note at offset " + hex(vmcoreinfo_note));
  EXPECT_HAS(id.error().message, "n_descsz=2147483647");
}

TEST(BadInput, PrstatusTooSmall) {
  Bytes notes = synth::note("CORE", NT_PRSTATUS, "0123456789", 10);
  auto id = identify(notes);
  ASSERT_FALSE(id.ok());
  EXPECT_HAS(id.error().message, "NT_PRSTATUS note at offset 0x0: n_descsz=10");
}

TEST(BadInput, VmcoreinfoMissingKeysAndGarbage) {
  synth::Spec s = synth::minimal_spec();
  s.vmcoreinfo = "OSRELEASE=6.1\nSYMBOL(init_top_pgt)=zzzz\nthis is not a key\nPAGESIZE=4k\nSYMBOL(neg)= -1\n"
                 "SIZE(page)=99999999999999999999999\nNUMBER(phys_base)=0\n";
  Bytes img = synth::build(s);
  MemorySource src(img);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto id = identify((*r)->notes());
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(id->vmcoreinfo.has_value());
  const Vmcoreinfo& vi = *id->vmcoreinfo;
  ASSERT_EQ(vi.warnings().size(), 1u);
  EXPECT_HAS(vi.warnings()[0], "line 3 at byte 0x28");
  auto top = vi.symbol("init_top_pgt");
  ASSERT_FALSE(top.ok());
  EXPECT_HAS(top.error().message, "SYMBOL(init_top_pgt)=\"zzzz\" is not a valid hex number");
  EXPECT_HAS(vi.decimal("PAGESIZE").error().message, "PAGESIZE=\"4k\"");
  EXPECT_HAS(vi.symbol("neg").error().message, "SYMBOL(neg)=\" -1\"");  // not 0xffffffffffffffff
  EXPECT_HAS(vi.size("page").error().message, "SIZE(page)");            // overflows u64
  EXPECT_HAS(vi.offset("page.flags").error().message, "VMCOREINFO has no OFFSET(page.flags)");
  EXPECT_EQ(vi.kernel_offset(), 0u);  // missing KERNELOFFSET degrades to 0
  // The page-table walker refuses to start rather than walking garbage.
  auto km = KernelMemory::create(**r, vi);
  ASSERT_FALSE(km.ok());
  EXPECT_HAS(km.error().message, "init_top_pgt");
}

TEST(BadInput, OverlappingPtLoadsAreReportedAndFirstWins) {
  synth::Spec s = synth::minimal_spec();
  s.loads = {{0x0, 0xffff888000000000ULL, 0x2000, 0x2000, 0},
             {0x1000, 0xffff888000001000ULL, 0x2000, 0x2000, 0x55}};
  Bytes img = synth::build(s);
  MemorySource src(img);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& notes = (*r)->metadata().notes_for_user;
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_HAS(notes[0], "PT_LOAD 0 and 1 overlap at physical 0x1000");
  // ram() stays sorted and disjoint: each physical page appears once.
  const auto& ram = (*r)->ram();
  u64 total = 0;
  for (size_t i = 0; i < ram.size(); ++i) {
    total += ram[i].size;
    if (i) {
      EXPECT_LE(ram[i - 1].start.value + ram[i - 1].size, ram[i].start.value);
    }
  }
  EXPECT_EQ(total, 0x3000u);
  EXPECT_EQ((*r)->max_pfn(), Pfn(3));
  std::vector<std::byte> page(kPageSize);
  ASSERT_EQ(*(*r)->read_page(Pfn(1), page), PageState::kData);
  EXPECT_EQ(page[0], std::byte(synth::pattern_byte(0x1000)));  // segment 0's copy
  ASSERT_EQ(*(*r)->read_page(Pfn(2), page), PageState::kData);
  EXPECT_EQ(page[0], std::byte(synth::pattern_byte(0x2000) + 0x55));
}

// Found by fuzz-elf-vmcore: a zero-length PT_NOTE made MemorySource call
// memcpy with a null destination (UB). It opens, with no notes.
TEST(BadInput, EmptyPtNote) {
  Bytes img = synth::build(synth::minimal_spec());
  poke<u64>(img, phdr(0) + kPFilesz, 0);
  MemorySource src(img);
  auto r = open_dump(src);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE((*r)->notes().empty());
  auto id = identify((*r)->notes());
  ASSERT_TRUE(id.ok());
  EXPECT_FALSE(id->vmcoreinfo.has_value());
}

TEST(BadInput, ZeroProgramHeaders) {
  Bytes img = synth::build(synth::minimal_spec());
  poke<u16>(img, 56, 0);
  EXPECT_HAS(open_error(img), "e_phnum at 0x38 is 0");
}

TEST(BadInput, PnXnumWithBadSectionHeader) {
  synth::Spec s = synth::minimal_spec();
  s.pn_xnum = true;
  synth::Layout L;
  Bytes good = synth::build(s, &L);
  {
    MemorySource src(good);
    auto r = open_dump(src);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ((*r)->ram().size(), 2u);
  }
  Bytes img = good;
  poke<u64>(img, 40, img.size() - 8);  // e_shoff: section header runs past EOF
  std::string e = open_error(img);
  EXPECT_HAS(e, "section header 0 for PN_XNUM at e_shoff=" + hex(img.size() - 8));
  EXPECT_HAS(e, "past the end");

  img = good;
  poke<u64>(img, 40, u64{1} << 40);  // e_shoff absurd: do not read a terabyte of "headers"
  EXPECT_HAS(open_error(img), "e_shoff at 0x28 is 0x10000000000");

  img = good;
  poke<u32>(img, L.shoff + 44, 0);  // sh_info = 0
  EXPECT_HAS(open_error(img), "sh_info at " + hex(L.shoff + 44) + " is 0");

  img = good;
  poke<u32>(img, L.shoff + 44, 0xffffffff);  // sh_info huge
  EXPECT_HAS(open_error(img), "with 4294967295 entries is implausibly large");
}

TEST(BadInput, TinyAndUnknownInputs) {
  EXPECT_HAS(open_error(Bytes{}), "unknown dump format");
  Bytes elf_magic = {std::byte{0x7f}, std::byte{'E'}, std::byte{'L'}, std::byte{'F'}};
  EXPECT_HAS(open_error(elf_magic), "ELF header");
  Bytes junk(100, std::byte{0xa5});
  EXPECT_HAS(open_error(junk), "unknown dump format");
}

// A real file through FileSource (mmap windows): a vmcore cut short on disk
// must give an error at open time, not SIGBUS on a later page read.
class TempFile {
 public:
  explicit TempFile(const Bytes& b) {
    char tmpl[] = "/tmp/salvage-bad-input-XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, b.data(), b.size()), static_cast<ssize_t>(b.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(BadInput, TruncatedFileThroughFileSource) {
  synth::Spec s = synth::minimal_spec();
  s.loads[1].filesz = s.loads[1].memsz = 3 * kPageSize;
  synth::Layout L;
  Bytes img = synth::build(s, &L);
  img.resize(L.load_offset[1] + kPageSize + 100);  // cut inside the second PT_LOAD
  TempFile f(img);
  for (bool use_mmap : {true, false}) {
    auto fs = FileSource::open(f.path(), use_mmap);
    ASSERT_TRUE(fs.ok()) << fs.error().message;
    auto r = open_dump(**fs);
    ASSERT_FALSE(r.ok());
    EXPECT_HAS(r.error().message, f.path());
    EXPECT_HAS(r.error().message, "PT_LOAD p_offset=" + hex(L.load_offset[1]) + " p_filesz=0x3000");
  }
}

// The file shrinks after it was opened (a copy still being written, or cut
// by another process). With mmap windows the page read must fail cleanly
// rather than kill the process with SIGBUS. Run in a child so a SIGBUS is
// a test failure, not the end of the test binary.
// FileSource maps only procfs files (/proc/vmcore); regular files use pread.
TEST(BadInput, FileShrinksAfterOpen) {
  synth::Spec s = synth::minimal_spec();
  s.loads[1].filesz = s.loads[1].memsz = 3 * kPageSize;
  synth::Layout L;
  Bytes img = synth::build(s, &L);
  TempFile f(img);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto fs = FileSource::open(f.path(), true);
    if (!fs.ok()) _exit(2);
    auto r = open_dump(**fs);
    if (!r.ok()) _exit(3);
    if (truncate(f.path().c_str(), static_cast<off_t>(L.load_offset[1] + 100)) != 0) _exit(4);
    std::vector<std::byte> page(kPageSize);
    auto st = (*r)->read_page(Pfn(0x102), page);  // data now past EOF
    _exit(st.ok() ? 5 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace salvage

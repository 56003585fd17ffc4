// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/modules.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <libdeflate.h>
#include <lzma.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "formats/types.h"

namespace salvage {
namespace {

namespace fs = std::filesystem;

// A minimal ELF64 relocatable object with a .modinfo section holding the
// given NUL-terminated key=value strings, laid out as modpost leaves them.
std::string fake_ko(const std::vector<std::string>& modinfo) {
  std::string info;
  for (const auto& kv : modinfo) info += kv + std::string(1, '\0');
  info += std::string(3, '\0');  // alignment padding, as in real modules
  const std::string shstr = std::string("\0.modinfo\0.shstrtab\0", 20);
  size_t info_off = sizeof(Elf64_Ehdr), shstr_off = info_off + info.size();
  size_t sh_off = round_up(shstr_off + shstr.size(), 8);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_REL;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_ehsize = sizeof eh;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = 3;
  eh.e_shstrndx = 2;
  eh.e_shoff = sh_off;
  Elf64_Shdr sh[3]{};
  sh[1].sh_name = 1;
  sh[1].sh_type = SHT_PROGBITS;
  sh[1].sh_flags = SHF_ALLOC;
  sh[1].sh_offset = info_off;
  sh[1].sh_size = info.size();
  sh[1].sh_addralign = 1;
  sh[2].sh_name = 10;
  sh[2].sh_type = SHT_STRTAB;
  sh[2].sh_offset = shstr_off;
  sh[2].sh_size = shstr.size();
  sh[2].sh_addralign = 1;
  std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
  out += info + shstr;
  out.resize(sh_off, '\0');
  out.append(reinterpret_cast<const char*>(sh), sizeof sh);
  return out;
}

void write(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/salvage-modules-test.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<std::string> names(const ResolvedModules& r) {
  std::vector<std::string> out;
  for (const auto& m : r.load_order) out.push_back(m.name);
  return out;
}

// The virtio part of Debian 6.1's modules.dep (closures, as depmod writes them).
const char* kDep =
    "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/virtio/virtio_ring.ko:\n"
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko\n"
    "kernel/lib/libcrc32c.ko:\n";

// Every module appears after all of its modules.dep dependencies.
void expect_dependency_order(const std::vector<std::string>& order) {
  auto pos = [&](const char* n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  EXPECT_LT(pos("virtio_ring"), pos("virtio"));
  EXPECT_LT(pos("virtio"), pos("virtio_blk"));
  EXPECT_LT(pos("virtio"), pos("virtio_pci"));
  EXPECT_LT(pos("virtio_pci_legacy_dev"), pos("virtio_pci"));
  EXPECT_LT(pos("virtio_pci_modern_dev"), pos("virtio_pci"));
}

TEST(Modules, NameNormalisation) {
  EXPECT_EQ(module_name("virtio-pci"), "virtio_pci");
  EXPECT_EQ(module_name("kernel/drivers/virtio/virtio_pci.ko"), "virtio_pci");
  EXPECT_EQ(module_name("/x/crc-itu-t.ko.xz"), "crc_itu_t");
  EXPECT_EQ(module_name("a.ko.zst"), "a");
  EXPECT_EQ(module_name("a.ko.gz"), "a");
}

TEST(Modules, ReadsModinfo) {
  auto mi = read_modinfo(fake_ko({"license=GPL", "depends=virtio,virtio_ring", "alias=a", "alias=b",
                                  "vermagic=6.1.0-56-cloud-amd64 SMP preempt mod_unload modversions "}));
  ASSERT_TRUE(mi.ok()) << mi.error().message;
  EXPECT_EQ(modinfo_values(*mi, "depends"), std::vector<std::string>{"virtio,virtio_ring"});
  EXPECT_EQ(modinfo_values(*mi, "alias"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(modinfo_values(*mi, "vermagic")[0].substr(0, 20), "6.1.0-56-cloud-amd64");
  EXPECT_FALSE(read_modinfo("not an elf").ok());
  std::string cut = fake_ko({"depends="});
  cut.resize(cut.size() - 10);  // section headers cut short
  EXPECT_FALSE(read_modinfo(cut).ok());
}

// Creates every module file kDep names (the resolver checks they exist).
void write_dep_tree(const fs::path& dir, const std::string& dep) {
  write(dir / "modules.dep", dep);
  size_t pos = 0;
  while ((pos = dep.find(".ko", pos)) != std::string::npos) {
    size_t start = dep.find_last_of(" \n", pos);
    start = start == std::string::npos ? 0 : start + 1;
    write(dir / dep.substr(start, pos + 3 - start), fake_ko({"depends="}));
    pos += 3;
  }
}

TEST(Modules, ResolvesFromModulesDep) {
  TempDir d;
  write_dep_tree(d.path, kDep);
  write(d.path / "modules.builtin", "kernel/fs/ext4/ext4.ko\nkernel/fs/jbd2/jbd2.ko\n");
  auto ix = ModuleIndex::open(d.path);
  ASSERT_TRUE(ix.ok()) << ix.error().message;
  EXPECT_TRUE(ix->has_modules_dep());
  auto r = resolve_modules(*ix, {{"virtio-blk", "test", false}, {"virtio_pci", "test", false}, {"ext4", "fs", false}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto order = names(*r);
  EXPECT_EQ(order.size(), 6u);  // each module once
  expect_dependency_order(order);
  EXPECT_EQ(order.front(), "virtio_ring");
  EXPECT_EQ(r->builtin, std::vector<std::string>{"ext4"});
  EXPECT_EQ(r->load_order.back().path, "kernel/drivers/virtio/virtio_pci.ko");
}

TEST(Modules, MissingModuleNamesTheChain) {
  TempDir d;
  write_dep_tree(d.path, kDep);
  write(d.path / "modules.dep", std::string(kDep) + "kernel/fs/foo.ko: kernel/lib/gone.ko\n" +
                                    "kernel/fs/bar.ko: kernel/lib/libcrc32c.ko kernel/lib/gone2.ko\n");
  write(d.path / "kernel/fs/foo.ko", fake_ko({}));
  write(d.path / "kernel/fs/bar.ko", fake_ko({}));
  auto ix = ModuleIndex::open(d.path);
  ASSERT_TRUE(ix.ok());
  auto r = resolve_modules(*ix, {{"nosuch", "--add-module", false}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nosuch"), std::string::npos);
  EXPECT_NE(r.error().message.find("--add-module"), std::string::npos);
  auto chain = resolve_modules(*ix, {{"foo", "--add-module", false}});
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.error().message.find("gone"), std::string::npos);
  EXPECT_NE(chain.error().message.find("foo"), std::string::npos);
  // Optional requests only warn (file systems whose type is unknown on the host).
  auto opt = resolve_modules(*ix, {{"xfs", "fs", true}, {"nosuch", "fs", true}});
  ASSERT_TRUE(opt.ok());
  EXPECT_EQ(names(*opt), (std::vector<std::string>{"libcrc32c", "xfs"}));
  ASSERT_EQ(opt->warnings.size(), 1u);
  EXPECT_NE(opt->warnings[0].find("nosuch"), std::string::npos);
  // Listed in modules.dep but not on disk (the lab's partial module tree).
  fs::remove(d.path / "kernel/fs/xfs/xfs.ko");
  auto gone = resolve_modules(*ix, {{"xfs", "fs", false}});
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message.find("xfs.ko is missing"), std::string::npos) << gone.error().message;
  // A failed optional request leaves none of its dependencies behind.
  auto partial = resolve_modules(*ix, {{"virtio", "t", false}, {"bar", "fs", true}});
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(names(*partial), (std::vector<std::string>{"virtio_ring", "virtio"}));
  EXPECT_EQ(partial->warnings.size(), 1u);
}

TEST(Modules, FallsBackToModinfoAndDecompresses) {
  TempDir d;
  const char* vm = "vermagic=6.1.0 SMP";
  write(d.path / "kernel/drivers/virtio/virtio_ring.ko", fake_ko({"depends=", vm}));
  // virtio.ko.zst
  std::string v = fake_ko({"depends=virtio_ring", vm});
  std::string z(ZSTD_compressBound(v.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), v.data(), v.size(), 3));
  write(d.path / "kernel/drivers/virtio/virtio.ko.zst", z);
  // virtio_blk.ko.xz
  std::string b = fake_ko({"depends=virtio,virtio_ring", vm});
  std::string x(b.size() + 1024, '\0');
  size_t xpos = 0;
  ASSERT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr, reinterpret_cast<const uint8_t*>(b.data()), b.size(),
                                    reinterpret_cast<uint8_t*>(x.data()), &xpos, x.size()),
            LZMA_OK);
  x.resize(xpos);
  write(d.path / "kernel/drivers/block/virtio_blk.ko.xz", x);
  // virtio_pci.ko.gz (with '-' spelled dependencies)
  std::string p = fake_ko({"depends=virtio-pci-legacy-dev,virtio_pci_modern_dev,virtio,virtio_ring", vm});
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::string g(libdeflate_gzip_compress_bound(c, p.size()), '\0');
  g.resize(libdeflate_gzip_compress(c, p.data(), p.size(), g.data(), g.size()));
  libdeflate_free_compressor(c);
  write(d.path / "kernel/drivers/virtio/virtio_pci.ko.gz", g);
  write(d.path / "kernel/drivers/virtio/virtio_pci_legacy_dev.ko", fake_ko({"depends=", vm}));
  write(d.path / "kernel/drivers/virtio/virtio_pci_modern_dev.ko", fake_ko({"depends=", vm}));

  auto ix = ModuleIndex::open(d.path);
  ASSERT_TRUE(ix.ok()) << ix.error().message;
  EXPECT_FALSE(ix->has_modules_dep());
  auto r = resolve_modules(*ix, {{"virtio_blk", "t", false}, {"virtio_pci", "t", false}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->load_order.size(), 6u);
  expect_dependency_order(names(*r));
  EXPECT_EQ(r->load_order[2].path, "kernel/drivers/block/virtio_blk.ko.xz");
  // The decompressed contents are the original module.
  auto back = read_module_file((d.path / "kernel/drivers/virtio/virtio_pci.ko.gz").string());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, p);
  auto bx = read_module_file((d.path / "kernel/drivers/block/virtio_blk.ko.xz").string());
  ASSERT_TRUE(bx.ok()) << bx.error().message;
  EXPECT_EQ(*bx, b);
  // A corrupt stream is an error naming the file, not garbage.
  write(d.path / "kernel/bad.ko.zst", z.substr(0, z.size() / 2));
  auto bad = read_module_file((d.path / "kernel/bad.ko.zst").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.ko.zst"), std::string::npos);
}

TEST(Modules, DetectsCycles) {
  TempDir d;
  write(d.path / "a.ko", fake_ko({"depends=b"}));
  write(d.path / "b.ko", fake_ko({"depends=c"}));
  write(d.path / "c.ko", fake_ko({"depends=a"}));
  auto ix = ModuleIndex::open(d.path);
  ASSERT_TRUE(ix.ok());
  auto r = resolve_modules(*ix, {{"a", "t", false}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cycle"), std::string::npos);
}

TEST(Modules, BlockDeviceDriversFromSysfs) {
  TempDir d;
  fs::path sys = d.path / "sys";
  fs::path pci = sys / "devices/pci0000:00/0000:00:04.0";
  fs::path virtio = pci / "virtio2";
  fs::path disk = virtio / "block/vdb";
  fs::create_directories(disk / "vdb1");
  write(disk / "vdb1/partition", "1\n");
  fs::create_directories(sys / "class/block");
  fs::create_directories(sys / "module/virtio_blk");
  fs::create_directories(sys / "module/virtio_pci");
  fs::create_directories(sys / "bus/virtio/drivers/virtio_blk");
  fs::create_directories(sys / "bus/pci/drivers/virtio-pci");
  fs::create_symlink(disk, sys / "class/block/vdb");
  fs::create_symlink(disk / "vdb1", sys / "class/block/vdb1");
  fs::create_symlink(virtio, disk / "device");
  fs::create_symlink(sys / "bus/virtio/drivers/virtio_blk", virtio / "driver");
  fs::create_symlink(sys / "module/virtio_blk", sys / "bus/virtio/drivers/virtio_blk/module");
  fs::create_symlink(sys / "bus/pci/drivers/virtio-pci", pci / "driver");
  fs::create_symlink(sys / "module/virtio_pci", sys / "bus/pci/drivers/virtio-pci/module");
  for (const char* dev : {"vdb", "vdb1"}) {
    auto m = block_device_modules(sys.string(), dev);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(*m, (std::vector<std::string>{"virtio_pci", "virtio_blk"})) << dev;
  }
  // A virtual disk has no device link: nothing to load, not an error.
  fs::create_directories(sys / "devices/virtual/block/loop0");
  fs::create_symlink(sys / "devices/virtual/block/loop0", sys / "class/block/loop0");
  auto loop = block_device_modules(sys.string(), "loop0");
  ASSERT_TRUE(loop.ok());
  EXPECT_TRUE(loop->empty());
  EXPECT_FALSE(block_device_modules(sys.string(), "nosuch").ok());
}

}  // namespace
}  // namespace salvage

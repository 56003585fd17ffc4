// SPDX-License-Identifier: GPL-2.0-or-later
// Kernel module resolution for the capture initramfs (see modules.h).
#include "agent/modules.h"

#include "agent/file-util.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <functional>

namespace salvage {

namespace {

namespace fs = std::filesystem;

// No module is this large decompressed (the biggest in a 6.1 tree, amdgpu,
// is ~20 MiB); the limit only stops a corrupt stream from eating memory.
constexpr size_t kMaxModuleSize = size_t{512} << 20;


Result<std::string> unzstd(const std::string& in, const std::string& path) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (!ds) return make_error(path + ": zstd: out of memory");
  std::string out;
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  size_t ret = 1;
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    ret = ZSTD_decompressStream(ds, &ob, &ib);
    if (ZSTD_isError(ret)) {
      std::string msg = ZSTD_getErrorName(ret);
      ZSTD_freeDStream(ds);
      return make_error(path + ": zstd at input offset " + std::to_string(ib.pos) + ": " + msg);
    }
    out.append(chunk.data(), ob.pos);
    if (out.size() > kMaxModuleSize) break;
    if (ob.pos == 0 && ib.pos < ib.size && ret == 0) break;
  }
  ZSTD_freeDStream(ds);
  if (ret != 0 || out.size() > kMaxModuleSize) return make_error(path + ": zstd stream truncated or too large");
  return out;
}

Result<std::string> unxz(const std::string& in, const std::string& path) {
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK) return make_error(path + ": xz: decoder init failed");
  std::string out;
  std::string chunk(1 << 16, '\0');
  s.next_in = reinterpret_cast<const uint8_t*>(in.data());
  s.avail_in = in.size();
  lzma_ret r = LZMA_OK;
  while (r == LZMA_OK && out.size() <= kMaxModuleSize) {
    s.next_out = reinterpret_cast<uint8_t*>(chunk.data());
    s.avail_out = chunk.size();
    r = lzma_code(&s, LZMA_FINISH);
    out.append(chunk.data(), chunk.size() - s.avail_out);
  }
  size_t pos = in.size() - s.avail_in;
  lzma_end(&s);
  if (r != LZMA_STREAM_END) return make_error(path + ": xz error " + std::to_string(r) + " at input offset " + std::to_string(pos));
  return out;
}

Result<std::string> ungzip(const std::string& in, const std::string& path) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return make_error(path + ": gzip: inflateInit failed");
  std::string out;
  std::string chunk(1 << 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int r = Z_OK;
  while (r == Z_OK && out.size() <= kMaxModuleSize) {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    r = inflate(&z, Z_NO_FLUSH);
    out.append(chunk.data(), chunk.size() - z.avail_out);
    if (r == Z_BUF_ERROR && z.avail_in == 0) break;
  }
  inflateEnd(&z);
  if (r != Z_STREAM_END) return make_error(path + ": gzip error " + std::to_string(r) + " at input offset " + std::to_string(z.total_in));
  return out;
}

// A line-by-line walk of a text file.
void for_each_line(std::string_view text, const std::function<void(std::string_view)>& fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    fn(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

std::vector<std::string> split_words(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view w = s.substr(i, j - i);
    while (!w.empty() && (w.front() == ' ' || w.front() == '\t')) w.remove_prefix(1);
    while (!w.empty() && (w.back() == ' ' || w.back() == '\t' || w.back() == '\r')) w.remove_suffix(1);
    if (!w.empty()) out.emplace_back(w);
    i = j + 1;
  }
  return out;
}

bool is_module_file(std::string_view f) {
  return f.ends_with(".ko") || f.ends_with(".ko.xz") || f.ends_with(".ko.zst") || f.ends_with(".ko.gz");
}

}  // namespace

std::string module_name(std::string_view s) {
  size_t slash = s.rfind('/');
  if (slash != std::string_view::npos) s.remove_prefix(slash + 1);
  for (std::string_view suf : {".ko.xz", ".ko.zst", ".ko.gz", ".ko"})
    if (s.ends_with(suf)) {
      s.remove_suffix(suf.size());
      break;
    }
  std::string n(s);
  for (char& c : n)
    if (c == '-') c = '_';
  return n;
}

Result<ModInfo> read_modinfo(std::string_view bytes) {
  elf_version(EV_CURRENT);
  // libelf wants a mutable buffer even to read; give it a private copy.
  std::string copy(bytes);
  Elf* e = elf_memory(copy.data(), copy.size());
  if (!e) return make_error(std::string("not an ELF file: ") + elf_errmsg(-1));
  struct Closer {
    Elf* e;
    ~Closer() { elf_end(e); }
  } closer{e};
  if (elf_kind(e) != ELF_K_ELF) return make_error("not an ELF object");
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(e, &shstrndx) != 0) return make_error(std::string("no section name table: ") + elf_errmsg(-1));
  for (Elf_Scn* scn = elf_nextscn(e, nullptr); scn; scn = elf_nextscn(e, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    const char* name = elf_strptr(e, shstrndx, sh.sh_name);
    if (!name || std::strcmp(name, ".modinfo") != 0) continue;
    if (sh.sh_type == SHT_NOBITS) return make_error(".modinfo section has no contents");
    if (sh.sh_offset > copy.size() || sh.sh_size > copy.size() - sh.sh_offset)
      return make_error(".modinfo section (offset " + std::to_string(sh.sh_offset) + ", size " +
                        std::to_string(sh.sh_size) + ") runs past the end of the file");
    // NUL-separated "key=value" strings; alignment padding shows up as empty strings.
    std::string_view sec(copy.data() + sh.sh_offset, sh.sh_size);
    ModInfo mi;
    for (const auto& item : split_words(sec, '\0')) {
      size_t eq = item.find('=');
      if (eq == std::string::npos) continue;
      mi.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    return mi;
  }
  return make_error("no .modinfo section");
}

std::vector<std::string> modinfo_values(const ModInfo& mi, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : mi)
    if (k == key) out.push_back(v);
  return out;
}

Result<std::string> read_module_file(const std::string& path) {
  ASSIGN_OR_RETURN(std::string raw, read_file(path, kMaxModuleSize));
  if (path.ends_with(".ko.zst")) return unzstd(raw, path);
  if (path.ends_with(".ko.xz")) return unxz(raw, path);
  if (path.ends_with(".ko.gz")) return ungzip(raw, path);
  return raw;
}

Result<ModuleIndex> ModuleIndex::open(const std::string& dir) {
  ModuleIndex ix;
  ix.dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("modules directory " + dir + " does not exist");
  if (fs::exists(dir + "/modules.builtin", ec)) {
    ASSIGN_OR_RETURN(std::string text, read_file(dir + "/modules.builtin", kMaxModuleSize));
    ix.has_builtin_ = true;
    for_each_line(text, [&](std::string_view l) {
      if (!l.empty()) ix.builtin_.insert(module_name(l));
    });
  }
  if (fs::exists(dir + "/modules.dep", ec)) {
    // depmod's text format (kmod depmod.c output_deps): "path: dep dep ...",
    // paths relative to the directory, the dependency closure on each line.
    ASSIGN_OR_RETURN(std::string text, read_file(dir + "/modules.dep", kMaxModuleSize));
    ix.has_dep_ = true;
    size_t lineno = 0;
    Result<void> bad = Ok();
    for_each_line(text, [&](std::string_view l) {
      ++lineno;
      if (l.empty() || !bad.ok()) return;
      size_t colon = l.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        bad = make_error(dir + "/modules.dep line " + std::to_string(lineno) + ": no 'path:'");
        return;
      }
      std::string path(l.substr(0, colon));
      std::string name = module_name(path);
      std::vector<std::string> deps;
      for (auto& d : split_words(l.substr(colon + 1), ' ')) deps.push_back(module_name(d));
      ix.path_.emplace(name, path);
      ix.deps_.emplace(name, std::move(deps));
    });
    TRY(bad);
    return ix;
  }
  // No modules.dep: index the files themselves.
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) return make_error("listing " + dir + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return make_error("listing " + dir + ": " + ec.message());
    if (!it->is_regular_file(ec)) continue;
    std::string rel = fs::relative(it->path(), dir, ec).string();
    if (is_module_file(rel)) ix.path_.emplace(module_name(rel), rel);
  }
  return ix;
}

const std::string* ModuleIndex::find(std::string_view name) const {
  auto it = path_.find(module_name(name));
  return it == path_.end() ? nullptr : &it->second;
}

Result<std::vector<std::string>> ModuleIndex::depends(std::string_view name) const {
  std::string n = module_name(name);
  if (has_dep_) {
    auto it = deps_.find(n);
    if (it == deps_.end()) return make_error("module " + n + " is not in " + dir_ + "/modules.dep");
    return it->second;
  }
  const std::string* rel = find(n);
  if (!rel) return make_error("module " + n + " not found under " + dir_);
  std::string path = dir_ + "/" + *rel;
  ASSIGN_OR_RETURN(std::string bytes, read_module_file(path));
  ASSIGN_OR_RETURN(ModInfo mi, read_modinfo(bytes).context(path));
  std::vector<std::string> out;
  // "depends=a,b" (scripts/mod/modpost.c add_depends); one field, may be empty.
  for (const auto& v : modinfo_values(mi, "depends"))
    for (auto& d : split_words(v, ',')) out.push_back(module_name(d));
  return out;
}

Result<ResolvedModules> resolve_modules(const ModuleIndex& index, const std::vector<ModuleRequest>& requests) {
  ResolvedModules out;
  std::set<std::string> done, on_stack, builtin_seen;
  std::vector<std::string> chain;
  // Post-order DFS: a module is appended after everything it depends on.
  std::function<Result<void>(const std::string&, const ModuleRequest&)> visit =
      [&](const std::string& name, const ModuleRequest& req) -> Result<void> {
    if (done.count(name)) return Ok();
    std::string path_text = req.name + " (" + req.why + ")";
    for (size_t i = 1; i < chain.size(); ++i) path_text += " -> " + chain[i];
    if (on_stack.count(name)) return make_error("dependency cycle through " + name + ": " + path_text + " -> " + name);
    const std::string* rel = index.find(name);
    if (!rel) {
      if (index.builtin(name)) {
        if (builtin_seen.insert(name).second) out.builtin.push_back(name);
        done.insert(name);
        return Ok();
      }
      std::string why = "module " + name + " not found in " + index.dir() +
                        (index.has_builtin_list() ? "" : " (and no modules.builtin to tell whether it is built in)");
      if (chain.size() > 1) why += "; needed by " + path_text;
      else why += " (" + req.why + ")";
      return make_error(why);
    }
    std::error_code ec;
    if (!fs::exists(index.dir() + "/" + *rel, ec)) {
      std::string why = "module " + name + ": " + index.dir() + "/" + *rel + " is missing";
      return make_error(chain.size() > 1 ? why + "; needed by " + path_text : why + " (" + req.why + ")");
    }
    on_stack.insert(name);
    chain.push_back(name);
    ASSIGN_OR_RETURN(std::vector<std::string> deps, index.depends(name));
    for (const auto& d : deps) TRY(visit(d, req));
    chain.pop_back();
    on_stack.erase(name);
    done.insert(name);
    out.load_order.push_back({name, *rel});
    return Ok();
  };
  for (const auto& r : requests) {
    std::string name = module_name(r.name);
    if (name.empty()) return make_error("empty module name (" + r.why + ")");
    chain.assign(1, name);
    size_t before = out.load_order.size();
    auto res = visit(name, r);
    chain.clear();
    on_stack.clear();
    if (!res.ok()) {
      if (!r.optional) return std::move(res).error();
      // Drop what this request pulled in before failing: half of xfs's
      // dependencies are no use without xfs.
      for (size_t i = before; i < out.load_order.size(); ++i) done.erase(out.load_order[i].name);
      out.load_order.resize(before);
      out.warnings.push_back(res.error().message + "; skipped");
    }
  }
  return out;
}

Result<std::vector<std::string>> device_driver_modules(const std::string& sysfs_root, const std::string& device_dir) {
  std::error_code ec;
  fs::path dev = fs::canonical(fs::path(device_dir) / "device", ec);
  std::vector<std::string> chain;  // device first, then its parents
  if (ec) return chain;            // virtual devices (loop, dm, zram, bridges): no hardware driver
  fs::path devices = fs::canonical(fs::path(sysfs_root) / "devices", ec);
  if (ec) return make_error(sysfs_root + "/devices: " + ec.message());
  for (fs::path p = dev; p.string().starts_with(devices.string()) && p != devices; p = p.parent_path()) {
    fs::path link = fs::read_symlink(p / "driver" / "module", ec);
    if (ec) continue;  // no driver, or a built-in one
    std::string m = module_name(link.filename().string());
    bool seen = false;
    for (const auto& c : chain) seen = seen || c == m;
    if (!seen) chain.push_back(m);
  }
  // Bus drivers first (virtio_pci before virtio_blk), as a boot would load them.
  return std::vector<std::string>(chain.rbegin(), chain.rend());
}

Result<std::vector<std::string>> block_device_modules(const std::string& sysfs_root, const std::string& devname) {
  std::error_code ec;
  fs::path cls = fs::path(sysfs_root) / "class" / "block" / devname;
  fs::path dir = fs::canonical(cls, ec);
  if (ec) return make_error(cls.string() + ": " + ec.message());
  // A partition's sysfs directory sits inside its disk's and has no device link.
  if (fs::exists(dir / "partition", ec)) dir = dir.parent_path();
  return device_driver_modules(sysfs_root, dir.string());
}

}  // namespace salvage

#!/usr/bin/python3
# check-config.sh [--crashed|--capture|--patched] [--fragment F]... [-v] CONFIG
# check-config.sh --lint [FRAGMENT...]
#
# Reports the options a kernel config (a .config, /boot/config-*, or
# /proc/config.gz) is missing or has wrong for salvage, against the
# annotated fragments next to this script:
#
#   --crashed  crashed-kernel.config   the kernel that may crash (default)
#   --capture  capture-kernel.config   the kdump capture kernel
#   --patched  crashed-kernel.config + patched-kernel.config: a kernel built
#              with the relayres= series (kernel-config/patches/)
#
# Fragment syntax (plain Kconfig fragments, so merge_config.sh takes them):
#   # why: <reason>                      required before every option
#   CONFIG_FOO=y                         must be exactly y (or the value)
#   # CONFIG_FOO is not set              must be n or absent
#   # check: y-or-m                      (before an option) y or m will do
#   # check: any-of CONFIG_A=y CONFIG_B=m  (before an option) one of these;
#                                        each alternative may end in =y|m
#   # check: advisory                    (before an option) reported, never fails
#
# Output: one line per problem ("missing", "wrong", "set", "advisory") with
# the fragment's reason; -v also lists what is fine. Exit status: 0 all
# required options fine, 1 something missing or wrong, 2 usage or I/O error.
# --lint checks the fragments themselves (every option has a why).
import gzip
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = {
    "--crashed": ["crashed-kernel.config"],
    "--capture": ["capture-kernel.config"],
    "--patched": ["crashed-kernel.config", "patched-kernel.config"],
}
OPT_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
OPT_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")
ALT = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.+)$")


class Req:
    def __init__(self, where, name, want, accept, alts, advisory, why):
        self.where = where        # "file:line"
        self.name = name          # the option the fragment line sets
        self.want = want          # its value there ("n" for "is not set")
        self.accept = accept      # values that satisfy it, for name
        self.alts = alts          # [(name, {values})], empty unless any-of
        self.advisory = advisory
        self.why = why


def values_for(v):
    """'y|m' -> {'y','m'}; a quoted or numeric value stands for itself."""
    return set(v.split("|")) if re.fullmatch(r"[ymn](\|[ymn])*", v) else {v}


def parse_fragment(path):
    """Returns (requirements, lint problems)."""
    reqs, problems = [], []
    # in_why: the previous line was part of a reason, so a plain comment
    # continues it; after an option line a new "# why:" starts a new reason,
    # and options that follow without one share the last.
    why, checks, in_why = None, [], False
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n").strip()
            where = "%s:%d" % (os.path.basename(path), n)
            if not line:
                why, checks, in_why = None, [], False  # a blank line ends a block
                continue
            m_set, m_unset = OPT_SET.match(line), OPT_UNSET.match(line)
            if line.startswith("# why:"):
                why = (why + " " if in_why else "") + line[6:].strip()
                in_why = True
                continue
            if line.startswith("# check:"):
                checks.append(line[8:].strip())
                in_why = False
                continue
            if line.startswith("#") and not m_unset:
                if in_why:
                    why += " " + line[1:].strip()  # a why continued
                continue
            in_why = False
            if not (m_set or m_unset):
                problems.append("%s: not an option line: %s" % (where, line))
                continue
            name, want = (m_set.group(1), m_set.group(2)) if m_set else (m_unset.group(1), "n")
            if not why:
                problems.append("%s: %s has no '# why:' comment" % (where, name))
            accept, alts, advisory = {want}, [], False
            for c in checks:
                words = c.split()
                if words == ["y-or-m"]:
                    if want != "y":
                        problems.append("%s: y-or-m on %s=%s" % (where, name, want))
                    accept = {"y", "m"}
                elif words == ["advisory"]:
                    advisory = True
                elif words and words[0] == "any-of" and len(words) >= 3:
                    for w in words[1:]:
                        m = ALT.match(w)
                        if not m:
                            problems.append("%s: bad any-of alternative %r" % (where, w))
                            continue
                        alts.append((m.group(1), values_for(m.group(2))))
                    if name not in [a for a, _ in alts]:
                        problems.append("%s: any-of does not list %s itself" % (where, name))
                else:
                    problems.append("%s: unknown check %r" % (where, c))
            reqs.append(Req(where, name, want, accept, alts, advisory, why or ""))
            # Options after this one in the same block share its reason
            # but not its checks.
            checks = []
    return reqs, problems


def read_config(path):
    """{CONFIG_X: value}, 'n' for 'is not set'. Raises OSError/ValueError."""
    opener = gzip.open if path.endswith(".gz") else open
    cfg, seen = {}, False
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            m = OPT_SET.match(line)
            if m:
                v = m.group(2)
                cfg[m.group(1)] = v
                seen = True
                continue
            m = OPT_UNSET.match(line)
            if m:
                cfg[m.group(1)] = "n"
                seen = True
    if not seen:
        raise ValueError("no CONFIG_ lines: not a kernel config")
    return cfg


def show(v):
    return "not set" if v == "n" else v


def check(req, cfg):
    """(ok, message) for one requirement."""
    have = cfg.get(req.name, "n")
    if req.alts:
        for name, vals in req.alts:
            if cfg.get(name, "n") in vals:
                return True, "%s=%s" % (name, show(cfg.get(name, "n")))
        alts = " or ".join("%s=%s" % (n, "|".join(sorted(v, reverse=True))) for n, v in req.alts)
        got = ", ".join("%s %s" % (n, show(cfg.get(n, "n"))) for n, _ in req.alts)
        return False, "missing  one of %s (have: %s)" % (alts, got)
    if have in req.accept:
        return True, "%s=%s" % (req.name, show(have))
    want = "|".join(sorted(req.accept, reverse=True))
    if req.want == "n":
        return False, "set      %s=%s (want: not set)" % (req.name, have)
    if have == "n":
        return False, "missing  %s=%s (not set)" % (req.name, want)
    return False, "wrong    %s=%s (want %s)" % (req.name, have, want)


def read_fragment(path):
    """parse_fragment, or exit 2 naming the file that cannot be read."""
    try:
        return parse_fragment(path)
    except OSError as e:
        print("check-config: %s: %s" % (path, e.strerror), file=sys.stderr)
        sys.exit(2)


def usage(msg=None):
    if msg:
        print("check-config: " + msg, file=sys.stderr)
    print("usage: check-config.sh [--crashed|--capture|--patched] [--fragment F]... [-v] CONFIG\n"
          "       check-config.sh --lint [FRAGMENT...]", file=sys.stderr)
    sys.exit(2)


def main(argv):
    frags, mode, verbose, lint, rest = [], None, False, False, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in MODES:
            if mode and mode != a:
                usage("give one of --crashed, --capture, --patched")
            mode = a
        elif a == "--fragment":
            i += 1
            if i == len(argv):
                usage("--fragment needs a file")
            frags.append(argv[i])
        elif a == "-v":
            verbose = True
        elif a == "--lint":
            lint = True
        elif a in ("-h", "--help"):
            usage()
        elif a.startswith("-"):
            usage("unknown option " + a)
        else:
            rest.append(a)
        i += 1

    if lint:
        files = rest or [os.path.join(HERE, f) for f in
                         ("crashed-kernel.config", "capture-kernel.config", "patched-kernel.config")]
        bad = 0
        for f in files:
            reqs, problems = read_fragment(f)
            for p in problems:
                print(p)
            bad += len(problems)
            if not problems:
                print("%s: %d options, each with a reason" % (os.path.basename(f), len(reqs)))
        return 1 if bad else 0

    if len(rest) != 1:
        usage("give exactly one kernel config")
    if not frags or mode:
        frags = [os.path.join(HERE, f) for f in MODES[mode or "--crashed"]] + frags
    reqs = []
    for f in frags:
        r, problems = read_fragment(f)
        if problems:
            for p in problems:
                print("check-config: fragment " + p, file=sys.stderr)
            return 2
        reqs += r
    try:
        cfg = read_config(rest[0])
    except (OSError, ValueError, EOFError) as e:
        print("check-config: %s: %s" % (rest[0], getattr(e, "strerror", None) or e), file=sys.stderr)
        return 2

    failed = advisories = 0
    for r in reqs:
        ok, msg = check(r, cfg)
        if ok:
            if verbose:
                print("ok       %s" % msg)
            continue
        if r.advisory:
            advisories += 1
            msg = "advisory " + msg.split(None, 1)[1]
        else:
            failed += 1
        print("%s\n           why: %s [%s]" % (msg, r.why, r.where))
    names = ", ".join(os.path.basename(f) for f in frags)
    print("%s: %d of %d required options missing or wrong%s (%s)" % (
        rest[0], failed, sum(1 for r in reqs if not r.advisory),
        ", %d advisory" % advisories if advisories else "", names))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

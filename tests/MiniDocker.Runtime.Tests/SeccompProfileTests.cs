using System.Text;
using MiniDocker.Linux;
using MiniDocker.Runtime.Security;

namespace MiniDocker.Runtime.Tests;

/// <summary>The profile parser and Docker's include/exclude rules, on Podman's real profile (scripts/setup.sh
/// installs golang-github-containers-common) and on small profiles made here.</summary>
public sealed class SeccompProfileTests
{
    private static readonly SeccompTarget Amd64 = new("amd64", "SCMP_ARCH_X86_64", new Version(6, 1));
    private static readonly SeccompTarget Arm64 = new("arm64", "SCMP_ARCH_AARCH64", new Version(6, 1));
    private static readonly uint Eperm = Libc.SECCOMP_RET_ERRNO | (uint)Errno.EPERM;
    private static readonly uint Enosys = Libc.SECCOMP_RET_ERRNO | (uint)Errno.ENOSYS;

    private static SeccompProfile Podman() => SecurityOptions.Load(SecurityOptions.DefaultProfilePath, isDefault: true);
    private static SeccompProfile Default() => DefaultHardening.Apply(Podman());

    private static SeccompProfile Parse(string json) => SecurityOptions.Parse(Encoding.UTF8.GetBytes(json));

    private static List<ResolvedSeccompRule> RulesFor(ResolvedSeccompFilter f, string name) => f.Rules.Where(r => r.Name == name).ToList();

    [Fact]
    public void Podmans_profile_parses_with_its_default_errno_and_arch_map()
    {
        var p = Podman();
        Assert.Equal("SCMP_ACT_ERRNO", p.DefaultAction);
        Assert.True(p.Syscalls!.Count > 10);
        var f = SeccompResolver.Resolve(p, SecurityOptions.DefaultCapabilities, Amd64);
        Assert.Equal(Enosys, f.DefaultAction);
        Assert.Equal(["x86_64", "x86", "x32"], f.Architectures);
        Assert.Equal(["aarch64", "arm"], SeccompResolver.Resolve(p, SecurityOptions.DefaultCapabilities, Arm64).Architectures);
    }

    [Fact]
    public void Podmans_profile_alone_allows_keyrings_and_user_namespaces_so_the_default_hardens_it()
    {
        var podman = SeccompResolver.Resolve(Podman(), SecurityOptions.DefaultCapabilities, Amd64);
        Assert.Contains(RulesFor(podman, "keyctl"), r => r.Action == Libc.SECCOMP_RET_ALLOW);
        Assert.Contains(RulesFor(podman, "unshare"), r => r.Action == Libc.SECCOMP_RET_ALLOW && r.Args.Count == 0);

        var hardened = SeccompResolver.Resolve(Default(), SecurityOptions.DefaultCapabilities, Amd64);
        foreach (var name in new[] { "keyctl", "add_key", "request_key", "unshare" })
            Assert.All(RulesFor(hardened, name), r => Assert.Equal(Eperm, r.Action));
        Assert.Equal(["clone3"], RulesFor(hardened, "clone3").Select(r => r.Name));
        Assert.Equal(Enosys, RulesFor(hardened, "clone3").Single().Action);
        // clone: allowed only without namespace flags, and each namespace flag (CLONE_NEWUSER among them) is EPERM.
        var clone = RulesFor(hardened, "clone");
        Assert.DoesNotContain(clone, r => r.Args.Count == 0);
        Assert.Contains(clone, r => r.Action == Libc.SECCOMP_RET_ALLOW && r.Args.Single() ==
            new SeccompArgCondition(0, SeccompOp.MaskedEqual, DefaultHardening.NamespaceFlags, 0));
        ulong newUser = (ulong)Libc.CLONE_NEWUSER;
        Assert.Contains(clone, r => r.Action == Eperm && r.Args.Single() == new SeccompArgCondition(0, SeccompOp.MaskedEqual, newUser, newUser));
        Assert.Equal(0x7E020000UL, DefaultHardening.NamespaceFlags);
    }

    [Fact]
    public void Cap_sys_admin_allows_namespaces_and_setns_again()
    {
        var caps = SecurityOptions.DefaultCapabilities.Append("CAP_SYS_ADMIN").ToList();
        var f = SeccompResolver.Resolve(Default(), caps, Amd64);
        foreach (var name in new[] { "clone", "clone3", "unshare", "setns" })
            Assert.Equal([Libc.SECCOMP_RET_ALLOW], RulesFor(f, name).Select(r => r.Action).Distinct());
        Assert.Contains(RulesFor(f, "clone"), r => r.Args.Count == 0);
        // Keyrings stay closed whatever the capabilities (Docker's profile never allows them).
        Assert.Equal(Eperm, RulesFor(f, "keyctl").Single().Action);

        var without = SeccompResolver.Resolve(Default(), SecurityOptions.DefaultCapabilities, Amd64);
        Assert.Equal(Eperm, RulesFor(without, "setns").Single().Action);
        Assert.Equal(Eperm, RulesFor(without, "settimeofday").Single().Action);
    }

    [Fact]
    public void Arch_rules_follow_the_target_architecture()
    {
        var amd = SeccompResolver.Resolve(Podman(), SecurityOptions.DefaultCapabilities, Amd64);
        var arm = SeccompResolver.Resolve(Podman(), SecurityOptions.DefaultCapabilities, Arm64);
        Assert.NotEmpty(RulesFor(amd, "arch_prctl"));
        Assert.Empty(RulesFor(arm, "arch_prctl"));
        Assert.NotEmpty(RulesFor(arm, "arm_fadvise64_64"));
        Assert.Empty(RulesFor(amd, "arm_fadvise64_64"));
    }

    [Fact]
    public void Includes_need_every_cap_excludes_any_and_min_kernel_and_names_work_as_docker()
    {
        var p = Parse("""
        {
          "defaultAction": "SCMP_ACT_ERRNO",
          "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
          "syscalls": [
            { "names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"] } },
            { "names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["SYS_ADMIN"] } },
            { "names": ["c"], "action": "SCMP_ACT_ALLOW", "excludes": { "caps": ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"] } },
            { "names": ["d"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "99.0" } },
            { "names": ["e"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "4.8" } },
            { "name": "f", "action": "SCMP_ACT_ERRNO" },
            { "names": ["g"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": [ { "index": 2, "value": 9, "op": "SCMP_CMP_NE" } ] },
            { "names": ["h"], "action": "SCMP_ACT_ALLOW", "excludes": { "arches": ["amd64"] } }
          ]
        }
        """);
        var f = SeccompResolver.Resolve(p, ["CAP_SYS_ADMIN"], Amd64);
        Assert.Equal(Eperm, f.DefaultAction); // no defaultErrnoRet: EPERM, as runc
        Assert.Equal(["x86_64", "x86"], f.Architectures);
        Assert.Equal(["b", "e", "f", "g"], f.Rules.Select(r => r.Name));
        Assert.Equal(Eperm, f.Rules.Single(r => r.Name == "f").Action);
        var g = f.Rules.Single(r => r.Name == "g");
        Assert.Equal(Enosys, g.Action);
        Assert.Equal(new SeccompArgCondition(2, SeccompOp.NotEqual, 9, 0), g.Args.Single());
        Assert.Equal(["c", "e", "f", "g"], SeccompResolver.Resolve(p, [], Amd64).Rules.Select(r => r.Name));
    }

    [Theory]
    [InlineData("""{ "defaultAction": "SCMP_ACT_NOPE" }""", "unknown action")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["x"], "action": "SCMP_ACT_NOTIFY" } ] }""", "not supported")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES" } ] } ] }""", "operator")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 6, "value": 1, "op": "SCMP_CMP_EQ" } ] } ] }""", "index")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "action": "SCMP_ACT_ALLOW" } ] }""", "no names")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"] }""", "architecture")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["x"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "six" } } ] }""", "minKernel")]
    [InlineData("""{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": "x" } ] }""", "decoding")]
    [InlineData("""{ "defaultAction": """, "decoding")]
    [InlineData("null", "null")]
    public void A_bad_profile_is_one_line_error_125(string json, string expected)
    {
        var e = Assert.Throws<ContainerException>(() => SeccompResolver.Resolve(Parse(json), [], Amd64));
        Assert.Equal(125, e.ExitCode);
        Assert.StartsWith("decoding seccomp profile failed: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_missing_profile_file_is_an_error_not_an_unconfined_container()
    {
        string path = Path.Combine(Path.GetTempPath(), "mdk-no-such-profile-" + Guid.NewGuid().ToString("N") + ".json");
        var e = Assert.Throws<ContainerException>(() => SecurityOptions.Build([$"seccomp={path}"], SecurityOptions.DefaultCapabilities));
        Assert.Equal(125, e.ExitCode);
        Assert.Equal($"opening seccomp profile ({path}) failed: open {path}: no such file or directory", e.Message);
        var dir = Assert.Throws<ContainerException>(() => SecurityOptions.Build(["seccomp=/"], SecurityOptions.DefaultCapabilities));
        Assert.Contains("is a directory", dir.Message);
    }

    [Fact]
    public void Options_parse_as_docker_and_unconfined_or_privileged_mean_no_filter()
    {
        var defaults = SecurityOptions.Build([], SecurityOptions.DefaultCapabilities);
        Assert.True(defaults.Confined);
        Assert.Equal("default", defaults.SeccompProfile);
        Assert.NotEmpty(defaults.SeccompFilter);
        Assert.False(defaults.NoNewPrivileges);
        var unconfined = SecurityOptions.Build(["seccomp=unconfined"], SecurityOptions.DefaultCapabilities);
        Assert.False(unconfined.Confined);
        Assert.Empty(unconfined.SeccompFilter);
        var privileged = SecurityOptions.Build(["seccomp=/no/such/file"], SecurityOptions.DefaultCapabilities, privileged: true);
        Assert.False(privileged.Confined);
        // A config.json from before seccomp existed has no security section: unconfined, as it ran then.
        Assert.False(new SecurityConfig().Confined);
        Assert.True(SecurityOptions.Build(["no-new-privileges"], SecurityOptions.DefaultCapabilities).NoNewPrivileges);
        Assert.True(SecurityOptions.Build(["no-new-privileges:true"], SecurityOptions.DefaultCapabilities).NoNewPrivileges);
        Assert.False(SecurityOptions.Build(["no-new-privileges=false"], SecurityOptions.DefaultCapabilities).NoNewPrivileges);
        foreach (var bad in new[] { "apparmor=unconfined", "seccomp", "seccomp=", "no-new-privileges=maybe" })
        {
            var e = Assert.Throws<ContainerException>(() => SecurityOptions.Build([bad], SecurityOptions.DefaultCapabilities));
            Assert.Equal($"invalid --security-opt: \"{bad}\"", e.Message);
        }
    }

    [Fact]
    public void Libseccomp_compiles_the_default_profile_into_a_bpf_program()
    {
        var filter = LibSeccomp.Compile(SeccompResolver.Resolve(Default(), SecurityOptions.DefaultCapabilities, SeccompTarget.Host));
        Assert.Equal(0, filter.Length % 8);
        Assert.InRange(filter.Length / 8, 50, 4096);
        // A user's profile file is compiled as written (no hardening): one that allows everything is a tiny program.
        string path = Path.Combine(Path.GetTempPath(), "mdk-allow-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, """{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": ["no_such_syscall_here"], "action": "SCMP_ACT_ERRNO" } ] }""");
        try
        {
            var allow = SecurityOptions.Build([$"seccomp={path}"], SecurityOptions.DefaultCapabilities).SeccompFilter;
            Assert.InRange(allow.Length / 8, 1, 16);
        }
        finally { File.Delete(path); }
    }
}

/// <summary>The compiled-filter cache: a hit skips libseccomp, any change in the rules misses, and a directory that
/// others could write to is never read.</summary>
public sealed class SeccompFilterCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mdk-seccomp-cache-" + Guid.NewGuid().ToString("N"));
    private readonly ResolvedSeccompFilter _filter = new(Libc.SECCOMP_RET_ALLOW, ["x86_64"],
        [new ResolvedSeccompRule("keyctl", Libc.SECCOMP_RET_ERRNO | 1, [])]);
    private int _compiles;

    private byte[] Compile(ResolvedSeccompFilter f)
    {
        _compiles++;
        return new byte[8 * (f.Rules.Count + 1)];
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_second_compile_of_the_same_rules_is_read_back_and_other_rules_miss()
    {
        string cache = Path.Combine(_dir, "seccomp");
        var first = SeccompFilterCache.GetOrCompile(_filter, "2.5.4", Compile, cache);
        var second = SeccompFilterCache.GetOrCompile(_filter, "2.5.4", Compile, cache);
        Assert.Equal(1, _compiles);
        Assert.Equal(first, second);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(cache));
        SeccompFilterCache.GetOrCompile(_filter, "2.6.0", Compile, cache);
        SeccompFilterCache.GetOrCompile(_filter with { Rules = [.. _filter.Rules, new ResolvedSeccompRule("unshare", Libc.SECCOMP_RET_ERRNO | 1, [])] }, "2.5.4", Compile, cache);
        SeccompFilterCache.GetOrCompile(_filter with { Architectures = ["x86_64", "x86"] }, "2.5.4", Compile, cache);
        Assert.Equal(4, _compiles);
    }

    [Fact]
    public void An_entry_whose_name_matches_but_whose_key_differs_is_not_used()
    {
        // Two rule sets whose names (FNV-1a of the key) collide must never share a program: the entry carries its key.
        string cache = Path.Combine(_dir, "seccomp");
        SeccompFilterCache.GetOrCompile(_filter, "2.5.4", Compile, cache);
        string entry = Assert.Single(Directory.GetFiles(cache, "*.bpf"));
        var other = _filter with { Rules = [new ResolvedSeccompRule("add_key", Libc.SECCOMP_RET_ERRNO | 1, [])] };
        var forged = System.Text.Encoding.UTF8.GetBytes(SeccompFilterCache.Key(other, "2.5.4"));
        var content = new byte[4 + forged.Length + 16];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(content, forged.Length);
        forged.CopyTo(content, 4);
        File.WriteAllBytes(entry, content); // as if `other` had hashed to this name
        var program = SeccompFilterCache.GetOrCompile(_filter, "2.5.4", Compile, cache);
        Assert.Equal(2, _compiles);
        Assert.Equal(16, program.Length); // its own (one rule: 2 instructions), not the forged entry's
        Assert.Equal(program, SeccompFilterCache.GetOrCompile(_filter, "2.5.4", Compile, cache));
        Assert.Equal(2, _compiles);
    }

    [Fact]
    public void A_directory_others_can_write_is_not_trusted()
    {
        string cache = Path.Combine(_dir, "seccomp");
        SeccompFilterCache.GetOrCompile(_filter, "2.5.4", Compile, cache);
        File.SetUnixFileMode(cache, File.GetUnixFileMode(cache) | UnixFileMode.OtherWrite);
        SeccompFilterCache.GetOrCompile(_filter, "2.5.4", Compile, cache);
        Assert.Equal(2, _compiles);
    }
}

/// <summary>The cache by source (profile file identity, capabilities, target, binary): a hit needs no profile read,
/// any change of the profile or of the library it was compiled with misses, and a profile others could change is
/// never keyed by its identity.</summary>
public sealed class SeccompSourceCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine("/run", "mdk-seccomp-source-" + Guid.NewGuid().ToString("N"));
    private readonly SeccompTarget _target = new("amd64", "SCMP_ARCH_X86_64", new Version(6, 18));
    private readonly string[] _caps = ["CAP_CHOWN", "CAP_KILL"];

    public SeccompSourceCacheTests() => Directory.CreateDirectory(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Cache => Path.Combine(_dir, "seccomp");

    private string WriteFile(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return path;
    }

    [Fact]
    public void A_program_remembered_by_source_is_found_again_and_a_changed_profile_or_capability_set_misses()
    {
        string profile = WriteFile("profile.json", "{}");
        string library = WriteFile("libseccomp.so.2", "v1");
        byte[] program = [1, 2, 3, 4, 5, 6, 7, 8];
        string key = Assert.IsType<string>(SecurityOptions.SourceKey(profile, isDefault: false, _caps, _target));
        Assert.Null(SeccompFilterCache.TryGetBySource(key, Cache));
        Directory.CreateDirectory(Cache, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        SeccompFilterCache.RememberBySource(key, library, program, Cache);
        Assert.Equal(program, SeccompFilterCache.TryGetBySource(key, Cache));
        // The same capabilities in another order and spelling are the same source.
        Assert.Equal(key, SecurityOptions.SourceKey(profile, isDefault: false, ["kill", "CAP_CHOWN"], _target));
        Assert.NotEqual(key, SecurityOptions.SourceKey(profile, isDefault: false, [.. _caps, "CAP_SYS_ADMIN"], _target));
        Assert.NotEqual(key, SecurityOptions.SourceKey(profile, isDefault: true, _caps, _target));
        Assert.NotEqual(key, SecurityOptions.SourceKey(profile, isDefault: false, _caps, _target with { Kernel = new Version(5, 4) }));
        File.WriteAllText(profile, "{ }"); // rewritten: new mtime, ctime and size
        Assert.NotEqual(key, SecurityOptions.SourceKey(profile, isDefault: false, _caps, _target));
    }

    [Fact]
    public void A_program_compiled_with_another_library_file_is_not_used()
    {
        string profile = WriteFile("profile.json", "{}");
        string library = WriteFile("libseccomp.so.2", "v1");
        string key = SecurityOptions.SourceKey(profile, isDefault: false, _caps, _target)!;
        Directory.CreateDirectory(Cache, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        SeccompFilterCache.RememberBySource(key, library, new byte[8], Cache);
        File.WriteAllText(library, "v2 (an apt upgrade)");
        Assert.Null(SeccompFilterCache.TryGetBySource(key, Cache));
    }

    [Fact]
    public void A_profile_another_user_could_change_has_no_source_key()
    {
        string profile = WriteFile("profile.json", "{}");
        Assert.NotNull(SecurityOptions.SourceKey(profile, isDefault: false, _caps, _target));
        File.SetUnixFileMode(profile, File.GetUnixFileMode(profile) | UnixFileMode.GroupWrite);
        Assert.Null(SecurityOptions.SourceKey(profile, isDefault: false, _caps, _target));
        File.SetUnixFileMode(profile, File.GetUnixFileMode(profile) & ~UnixFileMode.GroupWrite);
        File.SetUnixFileMode(_dir, File.GetUnixFileMode(_dir) | UnixFileMode.OtherWrite); // its directory: a swap by rename
        Assert.Null(SecurityOptions.SourceKey(profile, isDefault: false, _caps, _target));
        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string link = Path.Combine(_dir, "link.json");
        File.CreateSymbolicLink(link, profile);
        Assert.Null(SecurityOptions.SourceKey(link, isDefault: false, _caps, _target));
        // A/link/../f is resolved by the kernel beside the link's target, not as A/f: a key for A/f's identity would
        // cache the program of a file elsewhere (another user's) under the name of root's file.
        string elsewhere = Directory.CreateTempSubdirectory("mdk-elsewhere-").FullName; // in /tmp: others may write there
        File.WriteAllText(Path.Combine(_dir, "evil.json"), "{}"); // root's, where the lexical path points
        File.WriteAllText(Path.Combine(elsewhere, "evil.json"), "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}"); // what would be read
        Directory.CreateDirectory(Path.Combine(elsewhere, "d"));
        File.CreateSymbolicLink(Path.Combine(_dir, "to-elsewhere"), Path.Combine(elsewhere, "d"));
        try
        {
            Assert.Null(SecurityOptions.SourceKey(Path.Combine(_dir, "to-elsewhere", "..", "evil.json"), isDefault: false, _caps, _target));
            Assert.Null(SecurityOptions.SourceKey(Path.Combine(_dir, ".", "profile.json"), isDefault: false, _caps, _target));
        }
        finally { Directory.Delete(elsewhere, recursive: true); }
        Assert.Equal(0, Libc.fchownat(Libc.AT_FDCWD, profile, 65534, 65534, 0));
        Assert.Null(SecurityOptions.SourceKey(profile, isDefault: false, _caps, _target));
    }

    [Fact]
    public void The_default_profile_on_this_host_has_a_source_key_and_libseccomp_is_found_after_a_compile()
    {
        Assert.NotNull(SecurityOptions.SourceKey(SecurityOptions.DefaultProfilePath, isDefault: true, SecurityOptions.DefaultCapabilities, SeccompTarget.Host));
        LibSeccomp.Version();
        Assert.Contains("/libseccomp.so", LibSeccomp.LoadedFile());
    }
}

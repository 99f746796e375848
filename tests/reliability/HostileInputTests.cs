using System.Formats.Tar;

namespace MiniDocker.IntegrationTests.Reliability;

/// <summary>
/// Bad arguments and bad files: each gives one line on stderr naming what was wrong (a usage error may add Docker's
/// "See '... --help'." line), Docker's exit status (125, or 1 for `rm` of a missing container), and leaves the state root and the host as they were.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly Rig _rig = new();
    private static readonly string Scratch = Path.Combine(Path.GetTempPath(), "mdk-rel-input-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        _rig.Dispose();
        try { Directory.Delete(Scratch, recursive: true); } catch (IOException) { }
    }

    /// <summary>Argument vectors; NET is replaced by a user network made for the test, PREFIX by its 10.X.Y.</summary>
    public static TheoryData<string, string[]> BadArguments()
    {
        string longName = new('a', 300);
        var d = new TheoryData<string, string[]>
        {
            // names
            { "container name with a space", ["run", "--net", "none", "--name", "bad name", "busybox", "true"] },
            { "container name with a slash", ["run", "--net", "none", "--name", "a/b", "busybox", "true"] },
            { "container name ..", ["run", "--net", "none", "--name", "..", "busybox", "true"] },
            { "network name with a slash", ["network", "create", "--subnet", "PREFIX.0/24", "a/b"] },
            { "network name ..", ["network", "create", "--subnet", "PREFIX.0/24", ".."] },
            { "network name 300 chars", ["network", "create", "--subnet", "PREFIX.0/24", longName] },
            { "network name none", ["network", "create", "--subnet", "PREFIX.0/24", "none"] },
            { "network name host", ["network", "create", "--subnet", "PREFIX.0/24", "host"] },
            { "network name bridge", ["network", "create", "--subnet", "PREFIX.0/24", "bridge"] },
            { "bridge-name that is a host interface", ["network", "create", "--subnet", "PREFIX.0/24", "-o", "com.docker.network.bridge.name=lo", "netlo"] },
            // CIDRs and gateways
            { "subnet prefix 33", ["network", "create", "--subnet", "PREFIX.0/33", "n1"] },
            { "subnet octet 300", ["network", "create", "--subnet", "300.1.1.0/24", "n1"] },
            { "subnet not an address", ["network", "create", "--subnet", "abc", "n1"] },
            { "subnet with host bits", ["network", "create", "--subnet", "PREFIX.7/24", "n1"] },
            { "subnet loopback", ["network", "create", "--subnet", "127.0.0.0/24", "n1"] },
            { "subnet multicast", ["network", "create", "--subnet", "224.1.1.0/24", "n1"] },
            { "subnet everything", ["network", "create", "--subnet", "0.0.0.0/0", "n1"] },
            { "subnet of another network", ["network", "create", "--subnet", "NETSUBNET", "n1"] },
            { "gateway outside the subnet", ["network", "create", "--subnet", "PREFIX.0/24", "--gateway", "192.0.2.1", "n1"] },
            { "gateway not an address", ["network", "create", "--subnet", "PREFIX.0/24", "--gateway", "abc", "n1"] },
            { "gateway is the network address", ["network", "create", "--subnet", "PREFIX.0/24", "--gateway", "PREFIX.0", "n1"] },
            { "gateway is the broadcast address", ["network", "create", "--subnet", "PREFIX.0/24", "--gateway", "PREFIX.255", "n1"] },
            // ports and ranges
            { "host port 70000", ["run", "--net", "NET", "-p", "70000:80", "busybox", "true"] },
            { "container port 0", ["run", "--net", "NET", "-p", "8080:0", "busybox", "true"] },
            { "port not a number", ["run", "--net", "NET", "-p", "abc:80", "busybox", "true"] },
            { "negative port", ["run", "--net", "NET", "-p", "-1:80", "busybox", "true"] },
            { "unknown protocol", ["run", "--net", "NET", "-p", "8080:80/xyz", "busybox", "true"] },
            { "bad host ip", ["run", "--net", "NET", "-p", "1.2.3.4.5:8080:80", "busybox", "true"] },
            { "reversed range", ["run", "--net", "NET", "-p", "8002-8000:80", "busybox", "true"] },
            { "ranges of different sizes", ["run", "--net", "NET", "-p", "8000-8002:80-81", "busybox", "true"] },
            { "open range", ["run", "--net", "NET", "-p", "8000-:80", "busybox", "true"] },
            { "-p with --net none", ["run", "--net", "none", "-p", "8080:80", "busybox", "true"] },
            // addresses
            { "--ip not an address", ["run", "--net", "NET", "--ip", "abc", "busybox", "true"] },
            { "--ip octet 999", ["run", "--net", "NET", "--ip", "999.1.1.1", "busybox", "true"] },
            { "--ip outside the subnet", ["run", "--net", "NET", "--ip", "192.0.2.9", "busybox", "true"] },
            { "--ip the gateway", ["run", "--net", "NET", "--ip", "PREFIX.1", "busybox", "true"] },
            { "--ip the broadcast", ["run", "--net", "NET", "--ip", "PREFIX.255", "busybox", "true"] },
            { "--ip on the default network", ["run", "--ip", "172.17.0.9", "busybox", "true"] },
            { "--ip with --net none", ["run", "--net", "none", "--ip", "PREFIX.9", "busybox", "true"] },
            { "--ip with --net host", ["run", "--net", "host", "--ip", "PREFIX.9", "busybox", "true"] },
            { "unknown network", ["run", "--net", "nosuchnet", "busybox", "true"] },
            // image references
            { "image name in capitals", ["run", "--net", "none", "BusyBox", "true"] },
            { "image name with a space", ["run", "--net", "none", "busy box", "true"] },
            { "image tag empty", ["run", "--net", "none", "busybox:", "true"] },
            { "image name ..", ["run", "--net", "none", "../busybox", "true"] },
            { "image not there", ["run", "--net", "none", "nosuchimage", "true"] },
            { "import under a bad reference", ["image", "import", "BUSYBOXTAR", "Bad:Ref:x"] },
            { "import of a missing file", ["image", "import", "/nonexistent.tar", "x"] },
            { "import of a directory", ["image", "import", "/etc", "x"] },
            // env files
            { "env file missing", ["run", "--net", "none", "--env-file", "/nonexistent.env", "busybox", "true"] },
            { "env file a directory", ["run", "--net", "none", "--env-file", "/etc", "busybox", "true"] },
            { "env file with an empty key", ["run", "--net", "none", "--env-file", "SCRATCH/emptykey.env", "busybox", "true"] },
            { "env var with an empty key", ["run", "--net", "none", "-e", "=x", "busybox", "true"] },
            // other flags
            { "restart policy unknown", ["run", "-d", "--net", "none", "--restart", "sometimes", "busybox", "true"] },
            { "capability unknown", ["run", "--net", "none", "--cap-add", "NOT_A_CAP", "busybox", "true"] },
            { "device missing", ["run", "--net", "none", "--device", "/dev/nonexistent", "busybox", "true"] },
            { "unknown flag", ["run", "--no-such-flag", "busybox", "true"] },
            { "rm of a missing container", ["rm", "-f", "nosuchcontainer"] },
            { "network rm of a missing network", ["network", "rm", "nosuchnet"] },
            // volumes and mounts
            { "-v without a source", ["run", "--net", "none", "-v", ":/x", "busybox", "true"] },
            { "-v with a relative destination", ["run", "--net", "none", "-v", "SCRATCH:relative", "busybox", "true"] },
            { "-v onto /proc", ["run", "--net", "none", "-v", "SCRATCH:/proc/foo", "busybox", "true"] },
            { "-v with an unknown option", ["run", "--net", "none", "-v", "SCRATCH:/x:bogus", "busybox", "true"] },
            { "-v with too many parts", ["run", "--net", "none", "-v", "SCRATCH:/x:ro:z:extra", "busybox", "true"] },
            { "--mount with an unknown key", ["run", "--net", "none", "--mount", "type=bind,source=SCRATCH,target=/x,colour=red", "busybox", "true"] },
            { "--mount with an unknown type", ["run", "--net", "none", "--mount", "type=nfs,source=SCRATCH,target=/x", "busybox", "true"] },
            { "--mount without a target", ["run", "--net", "none", "--mount", "type=bind,source=SCRATCH", "busybox", "true"] },
            // resource limits
            { "--memory not a size", ["run", "--net", "none", "--memory", "abc", "busybox", "true"] },
            { "--memory negative", ["run", "--net", "none", "--memory", "-5m", "busybox", "true"] },
            { "--cpus negative", ["run", "--net", "none", "--cpus", "-1", "busybox", "true"] },
            { "--cpus not a number", ["run", "--net", "none", "--cpus", "lots", "busybox", "true"] },
            { "--pids-limit not a number", ["run", "--net", "none", "--pids-limit", "x", "busybox", "true"] },
            { "--ulimit value not a number", ["run", "--net", "none", "--ulimit", "nofile=abc", "busybox", "true"] },
            { "--ulimit unknown resource", ["run", "--net", "none", "--ulimit", "nosuch=1:2", "busybox", "true"] },
            { "--ulimit soft above hard", ["run", "--net", "none", "--ulimit", "nofile=200:100", "busybox", "true"] },
            // image references with bad digests
            { "digest too short", ["pull", "busybox@sha256:abc"] },
            { "digest in capitals", ["pull", "busybox@sha256:" + new string('A', 64)] },
            { "digest of an unknown algorithm", ["pull", "busybox@md5:" + new string('a', 32)] },
            { "digest not hex", ["pull", "busybox@sha256:" + new string('z', 64)] },
            { "run of a bad digest", ["run", "--net", "none", "busybox@sha256:xyz", "true"] },
            // DNS and address ranges
            { "--dns not an address", ["run", "--net", "NET", "--dns", "not-an-ip", "busybox", "true"] },
            { "--add-host without an address", ["run", "--net", "NET", "--add-host", "name:", "busybox", "true"] },
            { "--ip-range outside the subnet", ["network", "create", "--subnet", "PREFIX.0/24", "--ip-range", "192.0.2.0/28", "n1"] },
            { "--ip-range larger than the subnet", ["network", "create", "--subnet", "PREFIX.0/24", "--ip-range", "PREFIX.0/16", "n1"] },
            { "--ip-range not a CIDR", ["network", "create", "--subnet", "PREFIX.0/24", "--ip-range", "abc", "n1"] },
        };
        return d;
    }

    private (string Net, string Prefix, string Subnet) _net;

    private string[] Expand(string[] args) => args.Select(a => a
        .Replace("NETSUBNET", _net.Subnet).Replace("NET", _net.Net).Replace("PREFIX", _net.Prefix)
        .Replace("BUSYBOXTAR", MiniDocker.BusyboxTar).Replace("SCRATCH", Scratch)).ToArray();

    private void Prepare()
    {
        Directory.CreateDirectory(Scratch);
        File.WriteAllText(Path.Combine(Scratch, "emptykey.env"), "=value\n");
        var (net, subnet, gateway) = _rig.Network();
        _net = (net, gateway[..gateway.LastIndexOf('.')], subnet);
    }

    /// <summary>Where Docker's exit status is not 125: the multi-container verbs give 1 for a missing container (and
    /// inspect 1 for any failure); pull gives 1 (see the theory).</summary>
    private static readonly Dictionary<string, int> DockerExitCodes = new() { ["rm of a missing container"] = 1 };

    /// <summary>The call's failure as the user sees it, and nothing changed.</summary>
    private void AssertRefusedCleanly(string what, Func<Result> call, string? mustName = null, int? exitCode = null)
    {
        var stateBefore = Snapshot.Of(_rig.Root);
        var hostBefore = _rig.Leaks(networksToo: false);
        var r = call();
        Report.Count("hostile input: cases");
        Assert.True(r.ExitCode == (exitCode ?? DockerExitCodes.GetValueOrDefault(what, 125)), $"{what}: {r}");
        AssertOneLine(what, r);
        if (mustName is not null) Assert.Contains(mustName, r.Stderr);
        var stateAfter = Snapshot.Of(_rig.Root);
        Assert.True(stateBefore.Equals(stateAfter), $"{what}: state root changed: {stateBefore.Diff(stateAfter)}");
        Assert.Equal(hostBefore, _rig.Leaks(networksToo: false));
    }

    internal static void AssertOneLine(string what, Result r)
    {
        var lines = r.Stderr.TrimEnd('\n').Split('\n');
        Assert.True(lines[0].StartsWith("minidocker: ", StringComparison.Ordinal) && lines[0].Length > "minidocker: ".Length, $"{what}: {r}");
        // Docker adds its usage hint after a usage error; nothing else (no stack trace, no second message).
        Assert.True(lines.Skip(1).All(l => l.StartsWith("See '", StringComparison.Ordinal)), $"{what}: more than one line: {r}");
    }

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void A_bad_argument_gives_one_line_exit_125_and_changes_nothing(string what, string[] args)
    {
        Prepare();
        // Docker's CLI: a failed pull (a bad reference included) exits 1; run and the other verbs here 125.
        AssertRefusedCleanly(what, () => _rig.Run(Expand(args)), exitCode: args[0] == "pull" ? 1 : null);
    }

    [Fact]
    public void Publishing_with_host_networking_is_discarded_with_dockers_warning()
    {
        var r = _rig.Run("run", "--rm", "--net", "host", "-p", "8080:80", "busybox", "true");
        Report.Count("hostile input: cases");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("WARNING: Published ports are discarded when using host network mode\n", r.Stderr);
    }

    // --root ------------------------------------------------------------------------------------------------------

    public static TheoryData<string> BadRoots() => new() { "file", "under a file", "/proc", "/sys", "unreadable parent" };

    [Theory]
    [MemberData(nameof(BadRoots))]
    public void A_state_root_that_cannot_be_one_is_refused_in_one_line(string kind)
    {
        Directory.CreateDirectory(Scratch);
        string file = Path.Combine(Scratch, "plain-file");
        File.WriteAllText(file, "keep me\n");
        string root = kind switch
        {
            "file" => file,
            "under a file" => Path.Combine(file, "state"),
            "/proc" => "/proc/self/mdk-state",
            "/sys" => "/sys/kernel/mdk-state",
            _ => Path.Combine(Scratch, "locked", "state"),
        };
        if (kind == "unreadable parent")
        {
            // A directory of someone else's, mode 000: root may enter it, so the root is usable; the test is that it is
            // not made world-readable on the way.
            Directory.CreateDirectory(Path.Combine(Scratch, "locked"));
            File.SetUnixFileMode(Path.Combine(Scratch, "locked"), UnixFileMode.None);
        }
        foreach (var args in new[] { new[] { "ps", "-a" }, ["network", "ls"], ["images"] })
        {
            var (code, stdout, stderr) = Sh.Try(MiniDocker.Binary, ["--root", root, .. args]);
            var r = new Result(code, stdout, stderr);
            Report.Count("hostile input: cases");
            if (kind == "unreadable parent")
            {
                Assert.True(r.ExitCode == 0, r.ToString());
                Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(Path.Combine(Scratch, "locked")));
                continue;
            }
            Assert.True(r.ExitCode == 125, $"--root {root} {string.Join(' ', args)}: {r}");
            AssertOneLine(kind, r);
            Assert.Contains(kind == "under a file" ? file : root, r.Stderr);
        }
        Assert.Equal("keep me\n", File.ReadAllText(file));
    }

    // Bad image archives -------------------------------------------------------------------------------------------

    public static TheoryData<string> BadArchives() => new()
    {
        "traversal", "absolute traversal", "symlink escape", "hard link escape", "hard link outside", "truncated",
        "corrupt", "empty", "name longer than PATH_MAX", "deeper than the limit", "size larger than the archive",
    };

    private static string MakeArchive(string kind)
    {
        Directory.CreateDirectory(Scratch);
        string path = Path.Combine(Scratch, kind.Replace(' ', '-') + ".tar");
        if (kind is "truncated" or "corrupt" or "empty")
        {
            byte[] bytes = kind switch
            {
                "truncated" => File.ReadAllBytes(MiniDocker.BusyboxTar)[..20000],
                "corrupt" => RandomBytes(8192),
                _ => [],
            };
            File.WriteAllBytes(path, bytes);
            return path;
        }
        using var stream = File.Create(path);
        using (var tar = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true))
        {
            void Dir(string name) => tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name));
            void FileEntry(string name, string content) =>
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)) });
            Dir("bin/");
            switch (kind)
            {
                case "traversal": FileEntry("../../../../tmp/mdk-escaped", "pwned"); break;
                case "absolute traversal": FileEntry("/../../tmp/mdk-escaped", "pwned"); break;
                case "symlink escape":
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "etc") { LinkName = "/tmp" });
                    FileEntry("etc/mdk-escaped", "pwned");
                    break;
                case "hard link escape":
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "shadow") { LinkName = "../../../../etc/shadow" });
                    break;
                case "hard link outside":
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "passwd") { LinkName = "/etc/passwd" });
                    break;
                case "name longer than PATH_MAX":
                    FileEntry(string.Join('/', Enumerable.Repeat(new string('d', 200), 25)), "x");
                    break;
                case "deeper than the limit":
                    FileEntry(string.Join('/', Enumerable.Repeat("d", 300)) + "/f", "x");
                    break;
                case "size larger than the archive":
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "big") { DataStream = new MemoryStream(new byte[1 << 20]) });
                    break;
            }
        }
        if (kind == "size larger than the archive") stream.SetLength(512 * 4 + 4096); // the entry claims 1 MiB
        return path;
    }

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        new Random(15).NextBytes(b);
        return b;
    }

    [Theory]
    [MemberData(nameof(BadArchives))]
    public void A_bad_image_archive_is_refused_in_one_line_and_nothing_escapes(string kind)
    {
        string archive = MakeArchive(kind);
        File.Delete("/tmp/mdk-escaped");
        string shadowBefore = File.ReadAllText("/etc/shadow");
        AssertRefusedCleanly(kind, () => _rig.Run("image", "import", archive, "hostile"));
        Assert.False(File.Exists("/tmp/mdk-escaped"));
        Assert.Equal(shadowBefore, File.ReadAllText("/etc/shadow"));
        Assert.DoesNotContain("hostile", _rig.Ok("images"));
    }

    [Fact]
    public void Device_nodes_in_an_archive_are_not_created()
    {
        Directory.CreateDirectory(Scratch);
        string path = Path.Combine(Scratch, "devices.tar");
        using (var stream = File.Create(path))
        using (var tar = new TarWriter(stream, TarEntryFormat.Pax))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "dev/"));
            tar.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev/mem") { DeviceMajor = 1, DeviceMinor = 1 });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.BlockDevice, "dev/sda") { DeviceMajor = 8, DeviceMinor = 0 });
        }
        var r = _rig.Run("image", "import", path, "devices");
        Report.Count("hostile input: cases");
        Assert.True(r.ExitCode == 0, r.ToString()); // as Docker: the rest of the image is imported, the nodes are not
        var nodes = Directory.EnumerateFileSystemEntries(Path.Combine(_rig.Root, "images"), "*", SearchOption.AllDirectories)
            .Where(f => (File.GetAttributes(f) & FileAttributes.Device) != 0).ToList();
        Assert.Empty(nodes);
    }

    // Corrupted state files ----------------------------------------------------------------------------------------

    public static TheoryData<string> CorruptStates() => new() { "state.json", "config.json", "network record", "image index" };

    [Theory]
    [MemberData(nameof(CorruptStates))]
    public void A_corrupted_state_file_is_named_in_one_line_and_left_for_the_user(string which)
    {
        var (net, _, _) = _rig.Network();
        string id = _rig.Ok("run", "-d", "--net", net, "busybox", "sleep", "600");
        // The relay opens the log after run -d returns: let it, so the snapshots compare the commands' doing only.
        for (int i = 0; i < 100 && !File.Exists(Path.Combine(_rig.Root, "containers", id, "container.log")); i++) Thread.Sleep(100);
        string file = which switch
        {
            "state.json" => Path.Combine(_rig.Root, "containers", id, "state.json"),
            "config.json" => Path.Combine(_rig.Root, "containers", id, "config.json"),
            "network record" => Path.Combine(_rig.Root, "networks", net + ".json"),
            _ => Directory.GetFiles(Path.Combine(_rig.Root, "images"), "*.json").First(),
        };
        string good = File.ReadAllText(file);
        File.WriteAllText(file, good[..(good.Length / 2)]); // half a record: what a torn write would leave
        try
        {
            var commands = which switch
            {
                "network record" => new[] { new[] { "network", "inspect", net }, ["network", "rm", net] },
                "image index" => [["images"], ["run", "--net", "none", "busybox", "true"]],
                // prune must not take the unreadable container for a half-made one and delete the directory of a
                // container that runs
                _ => [["inspect", id], ["start", id], ["system", "prune", "-f"]],
            };
            foreach (var args in commands)
                AssertRefusedCleanly($"{which}: {string.Join(' ', args)}", () => _rig.Run(args), mustName: Path.GetFileName(file),
                    exitCode: args[0] is "inspect" or "start" ? 1 : 125); // Docker's inspect and start fail with 1
        }
        finally
        {
            File.WriteAllText(file, good);
        }
        _rig.CleanAndAssertNoLeaks();
    }
}

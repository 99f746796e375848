using MiniDocker.Network;

namespace MiniDocker.IntegrationTests.Reliability;

/// <summary>
/// The leak checker: what of one state root the host holds right now, found the way an administrator would look,
/// independently of the root's records (a crash may have lost them): links (bridges and veths named after the root's
/// networks and containers, anything tagged with the root's scope), addresses of its subnets, firewall lines tagged
/// with its scope (iptables-save and nft list ruleset), mounts under the root or whose source or options name it,
/// container cgroups of its scope in every mounted hierarchy, processes whose root directory or command line is under
/// the root, and the scope's aardvark-dns server, configuration directory, log and temp files under /run. Other suites run beside this one: only objects
/// this root can own are looked at. Without <c>networksToo</c> the networks' own bridges and rules are not leaks (they
/// still exist); their containers' veths, rules, cgroups, mounts and processes are.
/// </summary>
public static class HostLeaks
{
    public static List<string> Find(string root, string scope, IReadOnlyCollection<string> containers,
        IReadOnlyCollection<string> networks, IReadOnlyCollection<string> subnetPrefixes, bool networksToo = true)
    {
        var leaks = new List<string>();
        string fullRoot = Path.GetFullPath(root).TrimEnd('/');

        // Links: veths of every (container, network) pair the root ever had, bridges of its networks, tagged links.
        var vethNames = new HashSet<string>();
        var allNetworks = networks.Append(NetworkStore.DefaultNetworkName).ToList();
        foreach (var id in containers)
            foreach (var net in allNetworks)
                for (int attempt = 0; attempt < 4; attempt++) vethNames.Add(InterfaceNames.HostVeth(id, net, attempt));
        var bridgeNames = networks.Select(n => InterfaceNames.DefaultBridge(n)).ToHashSet();
        foreach (var link in Directory.Exists("/sys/class/net") ? Directory.GetDirectories("/sys/class/net") : [])
        {
            string name = Path.GetFileName(link);
            string alias = Read(Path.Combine(link, "ifalias")).Trim();
            if (vethNames.Contains(name)) leaks.Add($"link {name} (veth of a container of the root)");
            else if (bridgeNames.Contains(name)) leaks.Add($"link {name} (bridge of a network of the root)");
            else if (networksToo && (alias.Contains(":" + scope + ":", StringComparison.Ordinal) || alias.EndsWith(scope, StringComparison.Ordinal)))
                leaks.Add($"link {name} (alias {alias})");
        }

        // Addresses in the root's subnets (a bridge's gateway, or a veth's).
        if (subnetPrefixes.Count > 0)
        {
            foreach (var line in Sh.Try("ip", "-o", "-4", "addr").Out.Split('\n'))
                foreach (var prefix in subnetPrefixes)
                    if (line.Contains(" inet " + prefix, StringComparison.Ordinal)) leaks.Add("address: " + line.Trim());
        }

        // Firewall lines carrying the root's scope, in both backends (whichever the root used).
        string tag = ":" + scope + ":";
        foreach (var (tool, args) in new[] { ("iptables-save", Array.Empty<string>()), ("nft", new[] { "list", "ruleset" }) })
        {
            (int code, string output, string _) = Sh.Try(tool, args);
            if (code != 0) continue;
            foreach (var line in output.Split('\n'))
                if ((networksToo && line.Contains("minidocker:net" + tag, StringComparison.Ordinal)) || line.Contains("minidocker:ctr" + tag, StringComparison.Ordinal))
                    leaks.Add($"{tool}: {line.Trim()}");
        }

        // Mounts under the root (rootfs overlays, bind mounts of /etc files, netns files).
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && (fields[4] == fullRoot || fields[4].StartsWith(fullRoot + "/", StringComparison.Ordinal)))
                leaks.Add("mount " + fields[4]);
        }

        // Mounts whose source or options name the root (a volume or overlay mounted elsewhere, e.g. lowerdir=ROOT/...).
        foreach (var line in File.ReadLines("/proc/mounts"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 3 && (fields[0].StartsWith(fullRoot + "/", StringComparison.Ordinal) || fields[3].Contains("=" + fullRoot + "/", StringComparison.Ordinal) || fields[3].Contains(":" + fullRoot + "/", StringComparison.Ordinal)))
                leaks.Add($"mount of {fields[0]} on {fields[1]} (names the root)");
        }

        // Container cgroups of the root's scope, in every hierarchy (v1 controllers and v2).
        foreach (var scopeDir in CgroupScopeDirs(scope))
            foreach (var child in Directory.GetDirectories(scopeDir))
                leaks.Add("cgroup " + child);

        // Processes inside one of the root's containers (their root directory is under it) or naming it (monitors).
        foreach (var proc in Directory.GetDirectories("/proc"))
        {
            string pid = Path.GetFileName(proc);
            if (!int.TryParse(pid, out int n) || n == Environment.ProcessId) continue;
            string rootDir;
            try { rootDir = new DirectoryInfo(Path.Combine(proc, "root")).LinkTarget ?? ""; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            string cmdline = Read(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
            if (IsZombie(proc)) continue;
            if (rootDir.StartsWith(fullRoot + "/", StringComparison.Ordinal) || cmdline.Contains(" " + fullRoot + " ", StringComparison.Ordinal))
                leaks.Add($"process {pid} ({cmdline.Trim()})");
        }

        // aardvark-dns of the root's scope: its server (found by its --config argument) and its files under /run. It
        // belongs to the networks (it stays while one that had containers exists), so it is a leak only with them.
        string dnsName = scope.Length == 0 ? "default" : scope;
        string dnsDir = Path.Combine(AardvarkDns.RunDirectory, dnsName);
        if (networksToo)
        {
            foreach (var proc in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(proc), out _) || IsZombie(proc)) continue;
                var argv = Read(Path.Combine(proc, "cmdline")).Split('\0');
                int config = Array.IndexOf(argv, "--config");
                if (argv.Length > 0 && Path.GetFileName(argv[0]) == "aardvark-dns" && config >= 0 && config + 1 < argv.Length && argv[config + 1] == dnsDir)
                    leaks.Add($"process {Path.GetFileName(proc)} (aardvark-dns of the root)");
            }
            if (Directory.Exists(dnsDir)) leaks.Add($"aardvark config {dnsDir}: {string.Join(',', Directory.GetFileSystemEntries(dnsDir).Select(Path.GetFileName))}");
            if (File.Exists(dnsDir + ".log")) leaks.Add($"aardvark log {dnsDir}.log");
            if (Directory.Exists(AardvarkDns.RunDirectory))
                foreach (var temp in Directory.GetFiles(AardvarkDns.RunDirectory, $".{dnsName}-*.tmp"))
                    leaks.Add("aardvark temp file " + temp);
        }
        return leaks;
    }

    /// <summary>The root's scope directory in every mounted cgroup hierarchy (each v1 controller, named v1 hierarchies,
    /// and v2 wherever it is mounted), found in the mount table rather than guessed from /sys/fs/cgroup's entries.</summary>
    public static IEnumerable<string> CgroupScopeDirs(string scope)
    {
        var mounts = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' '))
            .Where(f => Array.IndexOf(f, "-") is int dash && dash > 0 && dash + 1 < f.Length && f[dash + 1] is "cgroup" or "cgroup2")
            .Select(f => f[4]).Distinct().ToList();
        Assert.NotEmpty(mounts);
        return mounts.Select(m => Path.Combine(m, "minidocker", scope)).Where(Directory.Exists).Distinct();
    }

    private static bool IsZombie(string proc)
    {
        string stat = Read(Path.Combine(proc, "stat"));
        int close = stat.LastIndexOf(')');
        return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
    }

    private static string Read(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }
}

using MiniDocker.Netlink;

namespace MiniDocker.Network.Diagnostics;

public enum CheckLevel { OK, WARN, FAIL }

/// <summary>One line of `minidocker doctor`: what was found and, unless OK, what to do.</summary>
public sealed record CheckResult(string Name, CheckLevel Level, string Found, string? Fix = null);

/// <summary>What the checks look at, read once (or made up by a test). Null: could not be read.</summary>
public sealed record HostFacts(
    string? IpForward, bool BrNetfilterLoaded, string? BridgeNfCallIptables, string? ForwardPolicy,
    IReadOnlyList<string> ForeignChains, string? RpFilterAll, bool ConntrackTool, bool ConntrackModule,
    string CgroupMode, bool SeccompProfile, bool Tini, bool IptablesTool, bool NftTool,
    IReadOnlyList<string>? IgnoringRouterAdvertisements = null);

/// <summary>`minidocker doctor`: checks the host (or one network namespace) for what the labs and bridge networking need.</summary>
public static class HostDoctor
{
    public const string SeccompProfilePath = "/usr/share/containers/seccomp.json";
    public static readonly string[] TiniPaths = ["/usr/bin/tini-static", "/usr/bin/tini"];

    /// <summary>Reads the facts; with <paramref name="netns"/> the per-namespace ones (sysctls under /proc/sys/net, the
    /// firewall) come from that namespace, e.g. /run/netns/NAME.</summary>
    public static HostFacts Read(string? netns)
    {
        string? Sys(string path) => netns is null ? ReadTrim(path) : NetNs.Run(netns, () => ReadTrim(path));
        var tools = new ToolRunner(netns);
        bool iptables = ToolRunner.Find("iptables") is not null;
        string? policy = null;
        var foreign = new List<string>();
        if (iptables)
        {
            var (code, output, _) = tools.RunUnchecked("iptables", ["-S", "FORWARD"]);
            if (code == 0)
                policy = output.Split('\n').FirstOrDefault(l => l.StartsWith("-P FORWARD ", StringComparison.Ordinal))?["-P FORWARD ".Length..].Trim();
            var saved = tools.RunUnchecked("iptables-save", []);
            if (saved.ExitCode == 0)
                foreign.AddRange(ForeignChainsIn(saved.Output));
        }
        if (ToolRunner.Find("nft") is not null)
        {
            var (code, output, _) = tools.RunUnchecked("nft", ["list", "tables"]);
            if (code == 0)
                foreign.AddRange(output.Split('\n').Select(l => l.Trim())
                    .Where(l => l.StartsWith("table ", StringComparison.Ordinal) && (l.EndsWith(" docker", StringComparison.Ordinal) || l.EndsWith(" podman", StringComparison.Ordinal) || l.EndsWith(" netavark", StringComparison.Ordinal))));
        }
        return new HostFacts(
            Sys("/proc/sys/net/ipv4/ip_forward"),
            // A br_netfilter built into the kernel has no /sys/module entry, but its sysctls are there.
            Directory.Exists("/sys/module/br_netfilter") || Sys("/proc/sys/net/bridge/bridge-nf-call-iptables") is not null,
            Sys("/proc/sys/net/bridge/bridge-nf-call-iptables"),
            policy, foreign.Distinct().ToList(),
            Sys("/proc/sys/net/ipv4/conf/all/rp_filter"),
            ToolRunner.Find("conntrack") is not null,
            Directory.Exists("/sys/module/nf_conntrack"),
            CgroupMode(),
            File.Exists(SeccompProfilePath),
            TiniPaths.Any(File.Exists),
            iptables,
            ToolRunner.Find("nft") is not null,
            netns is null ? IgnoringRouterAdvertisements() : NetNs.Run(netns, IgnoringRouterAdvertisements));
    }

    /// <summary>With net.ipv6.conf.all.forwarding=1 (a dual-stack network turns it on) an interface with accept_ra=1
    /// ignores router advertisements: these interfaces, empty when forwarding is off.</summary>
    private static IReadOnlyList<string> IgnoringRouterAdvertisements()
    {
        if (ReadTrim("/proc/sys/net/ipv6/conf/all/forwarding") != "1") return [];
        return Directory.GetDirectories("/proc/sys/net/ipv6/conf").Select(Path.GetFileName).OfType<string>()
            .Where(i => i is not ("all" or "default" or "lo") && ReadTrim($"/proc/sys/net/ipv6/conf/{i}/accept_ra") == "1")
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Chains another container runtime made (Docker's DOCKER*, Podman/netavark's, CNI's).</summary>
    public static IEnumerable<string> ForeignChainsIn(string iptablesSave) =>
        iptablesSave.Split('\n').Where(l => l.StartsWith(':')).Select(l => l[1..].Split(' ')[0])
            .Where(c => c.StartsWith("DOCKER", StringComparison.Ordinal) || c.StartsWith("NETAVARK", StringComparison.Ordinal) ||
                        c.StartsWith("CNI-", StringComparison.Ordinal) || c.StartsWith("KUBE-", StringComparison.Ordinal))
            .Distinct();

    private static string? ReadTrim(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static string CgroupMode()
    {
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers")) return "v2";
        if (Directory.Exists("/sys/fs/cgroup/unified") && File.Exists("/sys/fs/cgroup/unified/cgroup.procs")) return "hybrid";
        return Directory.Exists("/sys/fs/cgroup/memory") ? "v1" : "none";
    }

    public static IReadOnlyList<CheckResult> Check(HostFacts f)
    {
        var r = new List<CheckResult>();
        r.Add(f.IpForward switch
        {
            "1" => new("ip_forward", CheckLevel.OK, "net.ipv4.ip_forward=1"),
            null => new("ip_forward", CheckLevel.WARN, "net.ipv4.ip_forward cannot be read"),
            var v => new("ip_forward", CheckLevel.WARN, $"net.ipv4.ip_forward={v}: the host does not route between the bridge and the uplink",
                "minidocker turns it on when it makes a bridge; for the labs' manual steps: sysctl -w net.ipv4.ip_forward=1"),
        });
        if (!f.BrNetfilterLoaded)
            r.Add(new("br_netfilter", CheckLevel.WARN, "module br_netfilter is not loaded: traffic between containers on one bridge bypasses iptables",
                "modprobe br_netfilter (only if you want FORWARD rules to see bridged traffic, as Docker does)"));
        else if (f.BridgeNfCallIptables != "1")
            r.Add(new("br_netfilter", CheckLevel.WARN, $"br_netfilter loaded but net.bridge.bridge-nf-call-iptables={f.BridgeNfCallIptables ?? "unreadable"}",
                "sysctl -w net.bridge.bridge-nf-call-iptables=1"));
        else
            r.Add(new("br_netfilter", CheckLevel.OK, "loaded, bridge-nf-call-iptables=1"));
        r.Add(f.ForwardPolicy switch
        {
            null => new("FORWARD policy", f.IptablesTool ? CheckLevel.WARN : CheckLevel.OK, f.IptablesTool ? "iptables -S FORWARD failed" : "no iptables"),
            "ACCEPT" => new("FORWARD policy", CheckLevel.OK, "ACCEPT"),
            var p => new("FORWARD policy", CheckLevel.WARN, $"{p}: forwarded traffic not accepted by a rule is dropped",
                "minidocker's own accept rules come first; in the labs' manual steps add your own ACCEPT rules (never change the policy of a shared host)"),
        });
        r.Add(f.ForeignChains.Count == 0
            ? new("other runtimes", CheckLevel.OK, "no DOCKER/NETAVARK/CNI/KUBE chains")
            : new("other runtimes", CheckLevel.WARN, $"another runtime's rules are present: {string.Join(", ", f.ForeignChains.Take(6))}",
                "Docker sets FORWARD's policy to DROP and isolates its bridges; use subnets that do not overlap its networks, and read `iptables -L FORWARD -v` when traffic stops"));
        r.Add(f.RpFilterAll switch
        {
            "1" => new("rp_filter", CheckLevel.WARN, "net.ipv4.conf.all.rp_filter=1 (strict): asymmetric paths are dropped",
                "for multi-homed labs: sysctl -w net.ipv4.conf.all.rp_filter=2 (loose)"),
            null => new("rp_filter", CheckLevel.WARN, "cannot be read"),
            var v => new("rp_filter", CheckLevel.OK, $"net.ipv4.conf.all.rp_filter={v}"),
        });
        r.Add(f.ConntrackTool
            ? new("conntrack", CheckLevel.OK, $"conntrack tool present, module {(f.ConntrackModule ? "loaded" : "not loaded yet (loads with the first NAT rule)")}")
            : new("conntrack", CheckLevel.WARN, "the conntrack tool is missing: labs cannot show NAT flows", "apt-get install conntrack"));
        r.Add(f.CgroupMode switch
        {
            "none" => new("cgroups", CheckLevel.FAIL, "no cgroup filesystem under /sys/fs/cgroup", "mount cgroup2 on /sys/fs/cgroup"),
            var m => new("cgroups", CheckLevel.OK, $"cgroup {m}"),
        });
        r.Add(f.SeccompProfile
            ? new("seccomp profile", CheckLevel.OK, SeccompProfilePath)
            : new("seccomp profile", CheckLevel.FAIL, $"{SeccompProfilePath} is missing: containers with the default profile will not start",
                "apt-get install golang-github-containers-common (Ubuntu: containers-common)"));
        r.Add(f.Tini
            ? new("tini", CheckLevel.OK, "present (--init)")
            : new("tini", CheckLevel.WARN, "tini is missing: run --init will fail", "apt-get install tini"));
        if (f.IgnoringRouterAdvertisements is { Count: > 0 } ra)
            r.Add(new("IPv6 router advertisements", CheckLevel.WARN,
                $"IPv6 forwarding is on, so {string.Join(", ", ra.Take(6))} ignore{(ra.Count == 1 ? "s" : "")} router advertisements (accept_ra=1)",
                "if an interface gets its IPv6 address or route by SLAAC: sysctl -w net.ipv6.conf.IF.accept_ra=2"));
        r.Add(f.IptablesTool || f.NftTool
            ? new("firewall tool", CheckLevel.OK, f.IptablesTool ? "iptables" : "nft")
            : new("firewall tool", CheckLevel.FAIL, "neither iptables nor nft is installed: networks cannot be made", "apt-get install iptables"));
        return r;
    }
}

using System.Text;

namespace MiniDocker.Network.Topology;

/// <summary>Draws a <see cref="TopologyView"/> as a textbook does: uplink on top, the bridge, then each veth pair
/// down into its container's namespace. Broken parts carry "!!" in text and red in DOT.</summary>
public static class TopologyRenderer
{
    private const string Broken = "!! ";

    public static string Text(TopologyView t)
    {
        var s = new StringBuilder();
        s.AppendLine($"network {t.Network}   subnet {t.Subnet}   (read from the kernel{(t.Broken ? "; BROKEN parts marked !!" : "")})");
        s.AppendLine();
        string uplink = t.Uplink is null
            ? "no default route (no uplink)"
            : $"{t.Uplink.Name} {string.Join(" ", t.Uplink.Addresses)} [{t.Uplink.State}]{(t.UplinkGateway is null ? "" : $"  default via {t.UplinkGateway}")}";
        s.AppendLine($"   (uplink) {uplink}");
        s.AppendLine("        ^");
        var masquerades = t.NetworkRules.Where(r => r.IsMasquerade).ToList();
        if (masquerades.Count == 0) s.AppendLine($"        |  {Broken}no MASQUERADE rule for {t.Subnet}");
        foreach (var r in masquerades) s.AppendLine($"        |  NAT {Counter(r)} {r.Chain}: {Short(r.Text)}");
        foreach (var r in t.NetworkRules.Where(r => !r.IsMasquerade && r.Table == "filter" || r.Backend == "nft" && !r.IsMasquerade && !r.IsDnat))
            s.AppendLine($"        |  FILTER {Counter(r)} {r.Chain}: {Short(r.Text)}");
        string bridgeLine = t.Bridge is null
            ? $"{Broken}bridge {t.BridgeName} MISSING"
            : $"bridge {t.Bridge.Name}  {string.Join(" ", t.Bridge.Addresses)}  [{t.Bridge.State}]  (gateway {t.Gateway})";
        int width = Math.Max(bridgeLine.Length + 4, 50);
        s.AppendLine("  +" + new string('-', width) + "+");
        s.AppendLine("  |  " + bridgeLine.PadRight(width - 2) + "|");
        s.AppendLine("  +" + new string('-', width) + "+");
        foreach (var p in t.Problems) s.AppendLine($"     {Broken}{p}");
        foreach (var c in t.Containers)
        {
            s.AppendLine("     |");
            string hostEnd = c.HostVeth is null ? $"{Broken}{c.HostVethName} MISSING" : $"{c.HostVeth.Name} [{Mark(c.HostVeth)}]";
            string inner = c.Eth0 is null ? $"{Broken}{c.IfName} MISSING" : $"{c.Eth0.Name} [{Mark(c.Eth0)}]";
            s.AppendLine($"     +-- {hostEnd} <==veth==> {inner}");
            s.AppendLine($"     |     +- netns of {c.Name} ({c.Id[..Math.Min(12, c.Id.Length)]}, pid {c.Pid}) ------");
            s.AppendLine($"     |     |  {c.IfName}: {(c.Eth0 is null ? "-" : c.Eth0.Addresses.Count == 0 ? Broken + "no address" : string.Join(" ", c.Eth0.Addresses))}");
            foreach (var route in c.Routes) s.AppendLine($"     |     |  route {route}");
            foreach (var port in c.Ports) s.AppendLine($"     |     |  publishes {port}");
            foreach (var r in c.PortRules)
                s.AppendLine($"     |     |  {(r.IsDnat ? "DNAT" : r.IsMasquerade ? "NAT" : "FILTER")} {Counter(r)} {r.Table}/{r.Chain}: {Short(r.Text)}");
            if (c.Conntrack.Count > 0) s.AppendLine($"     |     |  conntrack: {c.Conntrack.Count} flow(s)");
            foreach (var flow in c.Conntrack.Take(3)) s.AppendLine($"     |     |    {flow}");
            foreach (var p in c.Problems) s.AppendLine($"     |     |  {Broken}{p}");
            s.AppendLine("     |     +-------------------------------------");
        }
        if (t.Containers.Count == 0) s.AppendLine("     (no containers attached)");
        return Printable(s.ToString());
    }

    /// <summary>Names read from a container's namespace (its links, hence its routes' devices) are the container's
    /// choice, and the kernel allows control characters in them: never hand a terminal escape sequence to the
    /// admin's terminal.</summary>
    public static string Printable(string text) =>
        System.Text.RegularExpressions.Regex.Replace(text, @"[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f]", "?");

    private static string Mark(LinkView l) => l.Passes ? l.State : Broken + l.State;

    private static string Counter(RuleView r) => r.Packets < 0 ? "[no counter]" : $"[{r.Packets} pkts {r.Bytes} bytes]";

    // Our own comment tags only make lines long; what a learner reads is the match and the target.
    private static string Short(string rule) =>
        System.Text.RegularExpressions.Regex.Replace(rule, @"\s*-m comment --comment (""[^""]*""|\S+)|\s*comment ""[^""]*""", "");

    public static string Dot(TopologyView t)
    {
        var s = new StringBuilder();
        s.AppendLine($"digraph \"{Esc(t.Network)}\" {{");
        s.AppendLine("  rankdir=TB; node [shape=box, fontname=\"monospace\"];");
        string uplink = t.Uplink is null ? "no uplink" : $"{Esc(t.Uplink.Name)}\\n{string.Join("\\n", t.Uplink.Addresses)}";
        s.AppendLine($"  uplink [label=\"uplink {uplink}\", shape=ellipse];");
        string bridgeLabel = t.Bridge is null ? $"bridge {Esc(t.BridgeName)}\\nMISSING" : $"bridge {Esc(t.Bridge.Name)}\\n{string.Join("\\n", t.Bridge.Addresses)}\\n[{t.Bridge.State}]";
        string bridgeProblems = string.Join("", t.Problems.Select(p => "\\n!! " + Esc(p)));
        s.AppendLine($"  bridge [label=\"{bridgeLabel}{bridgeProblems}\"{(t.Problems.Count > 0 ? ", color=red, fontcolor=red" : "")}];");
        string nat = string.Join("\\n", t.NetworkRules.Where(r => r.IsMasquerade).Select(r => $"{Counter(r)} {Esc(Short(r.Text))}"));
        s.AppendLine($"  bridge -> uplink [label=\"{(nat.Length == 0 ? "!! no MASQUERADE" : nat)}\"{(nat.Length == 0 ? ", color=red" : "")}];");
        int i = 0;
        foreach (var c in t.Containers)
        {
            i++;
            string red = ", color=red, fontcolor=red";
            bool hostOk = c.HostVeth is { Passes: true };
            bool innerOk = c.Eth0 is { Passes: true };
            s.AppendLine($"  veth{i} [label=\"{Esc(c.HostVethName)}\\n[{(c.HostVeth is null ? "MISSING" : c.HostVeth.State)}]\"{(hostOk ? "" : red)}];");
            var lines = new List<string> { $"netns {c.Name} (pid {c.Pid})", $"{c.IfName} {(c.Eth0 is null ? "MISSING" : string.Join(" ", c.Eth0.Addresses) + " [" + c.Eth0.State + "]")}" };
            lines.AddRange(c.Routes.Select(r => "route " + r));
            lines.AddRange(c.PortRules.Where(r => r.IsDnat).Select(r => $"DNAT {Counter(r)} {Short(r.Text)}"));
            lines.AddRange(c.Problems.Select(p => "!! " + p));
            s.AppendLine($"  ns{i} [label=\"{string.Join("\\l", lines.Select(Esc))}\\l\"{(c.Problems.Count > 0 ? red : "")}];");
            s.AppendLine($"  bridge -> veth{i} [dir=both, label=\"port\"];");
            s.AppendLine($"  veth{i} -> ns{i} [dir=both, label=\"veth pair\"{(hostOk && innerOk ? "" : ", color=red")}];");
        }
        s.AppendLine("}");
        return s.ToString();
    }

    private static string Esc(string text) => Printable(text).Replace("\\", "\\\\").Replace("\"", "\\\"");
}

/// <summary>Renders DOT with Graphviz's dot (Debian's graphviz package).</summary>
public static class GraphvizRenderer
{
    public static string Svg(string dot)
    {
        if (ToolRunner.Find("dot") is null)
            throw new NetworkException("dot not found: install graphviz (apt-get install graphviz) for --format svg");
        return new ToolRunner(null).Run("dot", ["-Tsvg"], dot);
    }
}

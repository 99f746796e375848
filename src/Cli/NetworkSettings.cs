using System.Text.Json.Nodes;

namespace MiniDocker.Cli;

/// <summary>What `inspect` shows under NetworkSettings for a container, from the network subsystem; and what `run`
/// may ask of the network, checked as Docker checks it.</summary>
public static class NetworkSettings
{
    public const string HostModePortsWarning = "WARNING: Published ports are discarded when using host network mode";

    /// <summary>
    /// Docker's rules for a run's network flags, before anything is made: `--ip` only on a user-defined network,
    /// `-p` refused with `--net none` and dropped (with a warning on <paramref name="warnings"/>) with `--net host`.
    /// Returns the ports to publish.
    /// </summary>
    public static IReadOnlyList<string> CheckRun(string networkMode, string? requestedIp, IReadOnlyList<string> publish, TextWriter warnings)
    {
        if (requestedIp is not null && networkMode is "host" or "none" or MiniDocker.Network.NetworkStore.DefaultNetworkName)
            throw new MiniDocker.Network.NetworkException("user specified IP address is supported on user defined networks only");
        // Before the container is recorded: a run refused later leaves its directory behind in the root's trash.
        if (requestedIp is not null && !System.Net.IPAddress.TryParse(requestedIp, out _))
            throw new MiniDocker.Network.NetworkException($"invalid IP address '{requestedIp}'");
        if (publish.Count == 0) return publish;
        switch (networkMode)
        {
            case "none":
                throw new MiniDocker.Network.NetworkException("conflicting options: port publishing and network mode none");
            case "host":
                warnings.WriteLine(HostModePortsWarning);
                return [];
            default:
                return publish;
        }
    }

    public static JsonObject For(System.CommandLine.ParseResult p, string containerId)
    {
        var networks = new JsonObject();
        var ports = new JsonObject();
        var manager = Globals.Networks(p);
        foreach (var e in manager.Endpoints().Where(e => e.ContainerId == containerId))
        {
            var network = manager.Get(e.Network);
            networks[e.Network] = new JsonObject
            {
                ["IPAddress"] = e.IP.ToString(),
                ["IPPrefixLen"] = network.Subnet.Prefix,
                ["Gateway"] = network.Gateway.ToString(),
                // Docker's names; empty strings and 0 on a network without IPv6, as Docker shows them.
                ["GlobalIPv6Address"] = e.IPv6?.ToString() ?? "",
                ["GlobalIPv6PrefixLen"] = e.IPv6 is null ? 0 : network.Subnet6!.Value.Prefix,
                ["IPv6Gateway"] = e.IPv6 is null ? "" : network.Gateway6!.ToString(),
                ["MacAddress"] = e.MAC,
                ["HostVeth"] = e.HostVeth,
                ["NetworkID"] = network.Name,
                ["Interface"] = e.ContainerIfName,
                ["Aliases"] = new JsonArray((e.Aliases ?? []).Select(a => (JsonNode?)a).ToArray()),
                // Docker 25+: every name it resolves by on this network (none on the default one).
                ["DNSNames"] = network.HasDns
                    ? new JsonArray(new[] { e.Name }.Concat(e.Aliases ?? []).Append(e.ContainerId[..Math.Min(12, e.ContainerId.Length)])
                        .OfType<string>().Distinct().Select(a => (JsonNode?)a).ToArray())
                    : null,
            };
            foreach (var m in e.Ports)
            {
                string key = $"{m.ContainerPort}/{m.Protocol}";
                var list = ports[key] as JsonArray ?? new JsonArray();
                list.Add((JsonNode)new JsonObject { ["HostIp"] = m.HostIp?.ToString() ?? "0.0.0.0", ["HostPort"] = m.HostPort.ToString() });
                ports[key] = list;
            }
        }
        return new JsonObject { ["Networks"] = networks, ["Ports"] = ports };
    }
}

using System.Text.Json.Nodes;

namespace MiniDocker.Cli;

/// <summary>What `inspect` shows under NetworkSettings for a container, from the network subsystem.</summary>
public static class NetworkSettings
{
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
                ["MacAddress"] = e.MAC,
                ["HostVeth"] = e.HostVeth,
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

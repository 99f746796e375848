using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;
using MiniDocker.Network;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker network create|ls|inspect|rm|reconcile` and `minidocker port`.</summary>
public static class NetworkVerbs
{
    public static IEnumerable<Command> Create() => [CreateNetwork(), CreatePort()];

    private static readonly Dictionary<string, string> NetworkHeaders = new(DockerHeaders.Network)
    {
        ["Subnet"] = "SUBNET", ["Gateway"] = "GATEWAY", ["Bridge"] = "BRIDGE", ["Containers"] = "CONTAINERS",
    };

    private static Command CreateNetwork()
    {
        var driver = new Option<string>("--driver", "-d") { Description = "Driver: bridge, macvlan or ipvlan", DefaultValueFactory = _ => "bridge" };
        var subnet = new Option<string[]>("--subnet")
        { Description = "Subnet in CIDR form, e.g. 10.20.0.0/24; once per family (fd00:1::/64 with --ipv6)" };
        var gateway = new Option<string[]>("--gateway") { Description = "Gateway address, once per family (default: the first address of the subnet)" };
        var ipv6 = new Option<bool>("--ipv6") { Description = "Dual stack: give an IPv6 --subnet too" };
        var opts = new Option<string[]>("--opt", "-o")
        {
            Description = "Driver option: bridge-name=NAME (com.docker.network.bridge.name), mtu=N (com.docker.network.driver.mtu); " +
                "macvlan/ipvlan: parent=IF, macvlan_mode=bridge|private|vepa, ipvlan_mode=l2|l3|l3s",
        };
        var @internal = new Option<bool>("--internal") { Description = "No outbound route or NAT, no published ports" };
        var ipRange = new Option<string?>("--ip-range") { Description = "Allocate container addresses from this sub-range (CIDR)" };
        var labels = new Option<string[]>("--label") { Description = "Set metadata on the network (K=V)" };
        var name = new Argument<string>("NAME");
        var create = new Command("create", "Create a network") { driver, subnet, gateway, ipv6, opts, @internal, ipRange, labels, name };
        create.SetAction(p =>
        {
            var options = new Dictionary<string, string>();
            foreach (var o in p.GetValue(opts) ?? [])
            {
                var kv = o.Split('=', 2);
                if (kv.Length != 2) throw new NetworkException($"invalid option '{o}': use KEY=VALUE");
                options[kv[0]] = kv[1];
            }
            var labelMap = new Dictionary<string, string>();
            foreach (var l in p.GetValue(labels) ?? [])
            {
                var kv = l.Split('=', 2);
                labelMap[kv[0]] = kv.Length == 2 ? kv[1] : "";
            }
            var (subnet4, subnet6) = NetworkFamilies.OnePerFamily(p.GetValue(subnet) ?? [], "--subnet");
            var (gateway4, gateway6) = NetworkFamilies.OnePerFamily(p.GetValue(gateway) ?? [], "--gateway");
            if (subnet4 is null && !p.GetValue(ipv6))
                throw new NetworkException(subnet6 is null ? "--subnet is required, e.g. --subnet 10.20.0.0/24"
                    : $"IPv6 subnet {subnet6} given without --ipv6: add --ipv6 to make a dual-stack network");
            var spec = new NetworkSpec(p.GetValue(@internal), p.GetValue(ipRange), labelMap, p.GetValue(ipv6), subnet6, gateway6);
            var record = Globals.Networks(p).Create(p.GetValue(name)!, subnet4 ?? "", gateway4, p.GetValue(driver)!, options, spec);
            Console.WriteLine(record.Name);
            return 0;
        });

        var lsFormat = new Option<string?>("--format") { Description = "Format output: table, json, table TEMPLATE or a Go TEMPLATE" };
        var lsFilter = new Option<string[]>("--filter", "-f") { Description = "Filter: label=K[=V], name=NAME, driver=D" };
        var ls = new Command("list", "List networks") { lsFormat, lsFilter };
        ls.Aliases.Add("ls");
        ls.SetAction(p =>
        {
            // Lists what exists: the default network appears once a container has joined it (listing makes nothing).
            var manager = Globals.Networks(p);
            var endpoints = manager.Endpoints();
            var filters = (p.GetValue(lsFilter) ?? []).Select(NetworkFilters.Parse).ToList();
            var rows = manager.List().Where(n => filters.All(f => f(n))).Select(n => new JsonObject
            {
                ["ID"] = n.Name, ["Name"] = n.Name, ["Driver"] = n.Driver, ["Scope"] = "local", ["IPv6"] = n.EnableIPv6 ? "true" : "false",
                ["Internal"] = n.Internal ? "true" : "false", ["Labels"] = NetworkFilters.LabelText(n), ["CreatedAt"] = n.Created, ["Subnet"] = n.Subnet.ToString(),
                ["Gateway"] = n.Gateway.ToString(), ["Bridge"] = n.Bridge.Length > 0 ? n.Bridge : "-",
                ["Containers"] = endpoints.Count(e => e.Network == n.Name).ToString(),
            }).ToList();
            // The seed's columns (subnet, gateway, bridge) are what a lab needs; Docker's names come with --format.
            return FormatOutput.List(p.GetValue(lsFormat), rows,
                "table {{.Name}}\t{{.Driver}}\t{{.Subnet}}\t{{.Gateway}}\t{{.Bridge}}\t{{.Containers}}", NetworkHeaders);
        });

        var names = new Argument<string[]>("NETWORK") { Arity = ArgumentArity.OneOrMore };
        var inspectFormat = new Option<string?>("--format", "-f") { Description = "Format output with a Go TEMPLATE, or json" };
        var inspect = new Command("inspect", "Show a network as JSON, with its endpoints") { names, inspectFormat, NetworkGraphCommand.Graph };
        inspect.SetAction(p =>
        {
            if (p.GetValue(NetworkGraphCommand.Graph)) return NetworkGraphCommand.Run(p, p.GetValue(names)!, p.GetValue(inspectFormat));
            var manager = Globals.Networks(p);
            var containers = Globals.Containers(p).List().ToDictionary(c => c.Config.Id, c => c.Config.Name);
            using var output = new MemoryStream();
            using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
            w.WriteStartArray();
            foreach (var n in p.GetValue(names)!)
            {
                var record = manager.Get(n);
                w.WriteStartObject();
                w.WriteString("Name", record.Name);
                w.WriteString("Driver", record.Driver);
                w.WriteString("Created", record.Created);
                w.WriteString("Subnet", record.Subnet.ToString());
                w.WriteString("Gateway", record.Gateway.ToString());
                w.WriteString("Bridge", record.Bridge);
                w.WriteBoolean("Internal", record.Internal);
                w.WriteBoolean("EnableIPv6", record.EnableIPv6);
                if (record.EnableIPv6)
                {
                    w.WriteString("Subnet6", record.Subnet6.ToString());
                    w.WriteString("Gateway6", record.Gateway6!.ToString());
                }
                if (record.IpRange is { } range) w.WriteString("IPRange", range.ToString());
                if (record.Mtu != 0) w.WriteNumber("MTU", record.Mtu);
                w.WriteStartObject("Options");
                foreach (var (k, v) in record.Options) w.WriteString(k, v);
                w.WriteEndObject();
                w.WriteStartObject("Labels");
                foreach (var (k, v) in record.Labels ?? new Dictionary<string, string>()) w.WriteString(k, v);
                w.WriteEndObject();
                w.WriteStartObject("Containers");
                foreach (var e in manager.Endpoints(record.Name))
                {
                    w.WriteStartObject(e.ContainerId);
                    w.WriteString("Name", containers.GetValueOrDefault(e.ContainerId, ""));
                    // A macvlan/ipvlan endpoint has no host end; an ipvlan one has the parent's MAC, not its own.
                    bool bridged = record.Driver == NetworkStore.BridgeDriver;
                    w.WriteString("HostVeth", bridged ? e.HostVeth : "");
                    w.WriteString("ContainerInterface", e.ContainerIfName);
                    w.WriteString("IPv4Address", $"{e.IP}/{record.Subnet.Prefix}");
                    w.WriteString("IPv6Address", e.IPv6 is null ? "" : $"{e.IPv6}/{record.Subnet6!.Value.Prefix}");
                    w.WriteString("MacAddress", record.Driver == LowerLinkOptions.Ipvlan ? "" : e.MAC);
                    w.WriteStartArray("Aliases");
                    foreach (var alias in e.Aliases ?? []) w.WriteStringValue(alias);
                    w.WriteEndArray();
                    w.WriteStartArray("Ports");
                    foreach (var port in e.Ports) w.WriteStringValue(port.ToString());
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.Flush();
            var objects = JsonNode.Parse(output.ToArray())!.AsArray().Select(n => n!).ToList();
            return FormatOutput.Inspect(p.GetValue(inspectFormat), objects);
        });

        var rmNames = new Argument<string[]>("NETWORK") { Arity = ArgumentArity.OneOrMore };
        var rm = new Command("remove", "Remove networks (refused while containers are attached)") { rmNames };
        rm.Aliases.Add("rm");
        rm.SetAction(p =>
        {
            var manager = Globals.Networks(p);
            foreach (var n in p.GetValue(rmNames)!)
            {
                manager.Remove(n);
                Console.WriteLine(n);
            }
            return 0;
        });

        var orphans = new Option<bool>("--orphans")
        {
            Description = "Also remove the bridges and rules of state roots that no longer exist (any root on this host)",
        };
        var reconcile = new Command("reconcile",
            "Restore minidocker's firewall rules and bridges; finish interrupted removals; remove what containers that are gone left")
        { orphans };
        reconcile.SetAction(p =>
        {
            Globals.Networks(p).Reconcile();
            if (!p.GetValue(orphans)) return 0;
            var report = NetworkManager.SweepOrphans();
            foreach (var line in report.Removed) Console.WriteLine($"removed {line}");
            if (report.UnknownScopes.Count > 0)
                Console.Error.WriteLine($"left alone: objects of {report.UnknownScopes.Count} state root(s) this host has no record of " +
                    $"(made before roots were recorded): tags {string.Join(", ", report.UnknownScopes.Select(s => s.Length == 0 ? "(default)" : s))}");
            return 0;
        });

        var network = new Command("network", "Manage networks") { create, ls, inspect, rm, reconcile };
        foreach (var verb in NetworkConnectVerbs.Create()) network.Subcommands.Add(verb);
        return network;
    }

    private static Command CreatePort()
    {
        var container = new Argument<string>("CONTAINER");
        var port = new Command("port", "List a container's published ports") { container };
        port.SetAction(p =>
        {
            var id = Globals.Containers(p).Find(p.GetValue(container)!).Config.Id;
            foreach (var e in Globals.Networks(p).Endpoints().Where(e => e.ContainerId == id))
                foreach (var m in e.Ports)
                    Console.WriteLine($"{m.ContainerPort}/{m.Protocol} -> {m.HostIp?.ToString() ?? "0.0.0.0"}:{m.HostPort}");
            return 0;
        });
        return port;
    }
}

/// <summary>`--subnet` and `--gateway` given once per address family, as Docker takes them.</summary>
internal static class NetworkFamilies
{
    public static (string? IPv4, string? IPv6) OnePerFamily(IReadOnlyList<string> values, string flag)
    {
        string? v4 = null, v6 = null;
        foreach (string value in values)
        {
            // An IPv6 address always has a colon; an IPv4 one never.
            bool isV6 = value.Contains(':');
            if ((isV6 ? v6 : v4) is { } earlier)
                throw new NetworkException($"{flag} given twice for {(isV6 ? "IPv6" : "IPv4")} ({earlier} and {value}): one per address family");
            if (isV6) v6 = value;
            else v4 = value;
        }
        return (v4, v6);
    }
}

using System.CommandLine;
using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`run`'s options for names and more networks: `--network` repeated, `--network-alias`, `--dns`,
/// `--dns-search`, `--dns-option`, `--add-host`.</summary>
public sealed class RunNetworkOptions
{
    private readonly Option<string[]> _alias = new("--network-alias") { Description = "Add a name the container resolves by on its user networks" };
    private readonly Option<string[]> _dns = new("--dns") { Description = "Set a DNS server" };
    private readonly Option<string[]> _dnsSearch = new("--dns-search") { Description = "Set a DNS search domain" };
    private readonly Option<string[]> _dnsOption = new("--dns-option", "--dns-opt") { Description = "Set a DNS option (e.g. ndots:2)" };
    private readonly Option<string[]> _addHost = new("--add-host") { Description = "Add a host-to-IP mapping (NAME:IP, IP may be host-gateway)" };
    private readonly Option<string?> _ip6 = new("--ip6") { Description = "IPv6 address on the network (a dual-stack one)" };

    public void AddTo(Command command)
    {
        command.Options.Add(_alias);
        command.Options.Add(_dns);
        command.Options.Add(_dnsSearch);
        command.Options.Add(_dnsOption);
        command.Options.Add(_addHost);
        command.Options.Add(_ip6);
    }

    /// <summary>The first network (the network mode) and the rest, checked as Docker checks them.</summary>
    public (string NetworkMode, ContainerNetworkOptions Options) Read(ParseResult p, string[] networks)
    {
        string mode = networks.Length == 0 ? NetworkStore.DefaultNetworkName : networks[0];
        if (networks.Length > 1 && networks.Any(n => n is "host" or "none"))
            throw new NetworkException("conflicting options: cannot attach both user-defined and non-user-defined network-modes");
        if (networks.Distinct(StringComparer.Ordinal).Count() != networks.Length)
            throw new NetworkException($"network {networks.GroupBy(n => n).First(g => g.Count() > 1).Key} is given more than once");
        var options = new ContainerNetworkOptions
        {
            ExtraNetworks = networks.Skip(1).ToList(),
            Aliases = (p.GetValue(_alias) ?? []).ToList(),
            Dns = (p.GetValue(_dns) ?? []).ToList(),
            DnsSearch = (p.GetValue(_dnsSearch) ?? []).ToList(),
            DnsOptions = (p.GetValue(_dnsOption) ?? []).ToList(),
            ExtraHosts = (p.GetValue(_addHost) ?? []).ToList(),
            RequestedIp6 = p.GetValue(_ip6),
        };
        if (options.RequestedIp6 is { } ip6)
        {
            // Before the container is recorded, as --ip: checked again against the network's subnet when it joins.
            if (mode is "host" or "none" or NetworkStore.DefaultNetworkName)
                throw new NetworkException("user specified IP address is supported on user defined networks only");
            Ipv6.Parse(ip6, "IPv6 address");
        }
        NameResolution.Validate(options);
        if (options.Aliases.Count > 0 && networks.All(n => n is "host" or "none" or NetworkStore.DefaultNetworkName))
            throw new NetworkException("network-scoped alias is supported only for containers in user defined networks");
        foreach (string n in options.ExtraNetworks) NameRules.ValidateNetworkName(n);
        return (mode, options);
    }

    /// <summary>An internal network publishes nothing: Docker accepts -p there and ignores it (moby#36174); we say so.</summary>
    public static IReadOnlyList<string> PublishOn(ParseResult p, string networkMode, IReadOnlyList<string> publish)
    {
        if (publish.Count == 0 || networkMode is "host" or "none" or NetworkStore.DefaultNetworkName) return publish;
        var network = Globals.Networks(p).List().FirstOrDefault(n => n.Name == networkMode);
        // Refused before the container is recorded (the attach refuses too, for `start` of an older record).
        if (network is not null && LowerLinkOptions.IsDriver(network.Driver))
            throw new NetworkException($"published ports are not supported on {network.Driver} network {networkMode}: " +
                "the container has its own address on the parent's LAN; reach it there");
        if (network is { Internal: true })
        {
            Console.Error.WriteLine($"WARNING: Published ports are discarded on internal network {networkMode}");
            return [];
        }
        return publish;
    }
}

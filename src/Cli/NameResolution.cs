using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli;

/// <summary>A container's /etc/resolv.conf and extra /etc/hosts lines from `--dns`, `--dns-search`, `--dns-option`
/// and `--add-host`, and whether it asks the network's name server (aardvark-dns on its user network's gateway).</summary>
public static partial class NameResolution
{
    public const string HostGateway = "host-gateway";

    /// <summary>Every value is checked before the container is made: each becomes one line of a file the container
    /// reads, so none may carry a newline, a space or anything but what its kind of value allows.</summary>
    public static void Validate(ContainerNetworkOptions options)
    {
        foreach (string server in options.Dns)
        {
            if (!IPAddress.TryParse(server, out var address) || address.ToString() != server.ToLowerInvariant())
                throw new NetworkException($"invalid --dns \"{Printable(server)}\": an IP address is required");
        }
        foreach (string domain in options.DnsSearch)
        {
            if (domain != ".") NetworkOptions.ValidateDnsName(domain.TrimEnd('.'), "--dns-search domain");
        }
        foreach (string option in options.DnsOptions)
        {
            if (!DnsOptionRegex().IsMatch(option))
                throw new NetworkException($"invalid --dns-option \"{Printable(option)}\": use e.g. ndots:2, timeout:1, edns0");
        }
        foreach (string entry in options.ExtraHosts) ParseHost(entry);
        foreach (string alias in options.Aliases) NetworkOptions.ValidateDnsName(alias, "--network-alias");
    }

    /// <summary>`NAME:IP` (or Docker's newer `NAME=IP`); IP may be `host-gateway`.</summary>
    public static (string Name, string Address) ParseHost(string entry)
    {
        int sep = entry.IndexOfAny(['=', ':']);
        if (sep <= 0)
            throw new NetworkException($"invalid --add-host \"{Printable(entry)}\": use NAME:IP");
        string name = entry[..sep], address = entry[(sep + 1)..];
        NetworkOptions.ValidateDnsName(name, "--add-host name");
        if (address != HostGateway && !IPAddress.TryParse(address.Trim('[', ']'), out _))
            throw new NetworkException($"invalid --add-host \"{Printable(entry)}\": \"{Printable(address)}\" is not an IP address or {HostGateway}");
        return (name, address.Trim('[', ']'));
    }

    /// <summary>Lines for /etc/hosts; host-gateway is <paramref name="gateway"/> (the first network's gateway).</summary>
    public static string HostsLines(ContainerNetworkOptions options, IPAddress? gateway)
    {
        var text = new StringBuilder();
        foreach (string entry in options.ExtraHosts)
        {
            var (name, address) = ParseHost(entry);
            if (address == HostGateway)
                address = gateway?.ToString() ?? throw new NetworkException($"--add-host {name}:{HostGateway} needs a bridge network to name its gateway");
            text.Append(address).Append('\t').Append(name).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>
    /// The container's resolv.conf. On a user network the name server is its gateway (aardvark-dns, which forwards
    /// other names to the host's resolvers), as Docker's 127.0.0.11; `--dns` servers follow it (aardvark-dns 1.4
    /// cannot forward per container), or replace the host's elsewhere. `--dns-search` and `--dns-option` replace
    /// the host's lines of their kind.
    /// </summary>
    public static string ResolvConf(string hostText, IPAddress? networkServer, ContainerNetworkOptions options)
    {
        var lines = MiniDocker.Runtime.ResolvConf.Filter(hostText).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var hostServers = lines.Where(l => Keyword(l) == "nameserver").ToList();
        var hostSearch = lines.Where(l => Keyword(l) is "search" or "domain").ToList();
        var hostOptions = lines.Where(l => Keyword(l) == "options").ToList();
        var text = new StringBuilder();
        if (options.DnsSearch.Count > 0)
        {
            if (!options.DnsSearch.SequenceEqual(["."])) text.Append("search ").AppendJoin(' ', options.DnsSearch.Where(d => d != ".")).Append('\n');
        }
        else foreach (string l in hostSearch) text.Append(l).Append('\n');
        if (networkServer is not null) text.Append("nameserver ").Append(networkServer).Append('\n');
        if (options.Dns.Count > 0) foreach (string s in options.Dns) text.Append("nameserver ").Append(s).Append('\n');
        else if (networkServer is null) foreach (string l in hostServers) text.Append(l).Append('\n');
        if (options.DnsOptions.Count > 0) text.Append("options ").AppendJoin(' ', options.DnsOptions).Append('\n');
        else foreach (string l in hostOptions) text.Append(l).Append('\n');
        return text.ToString();
    }

    private static string Keyword(string line) => line.TrimStart().Split([' ', '\t'], 2)[0];

    private static string Printable(string s) => s.ReplaceLineEndings("\\n");

    [GeneratedRegex(@"^[A-Za-z0-9_-]+(:[0-9]{1,5})?$")]
    private static partial Regex DnsOptionRegex();
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace MiniDocker.Network;

/// <summary>What `network create` asks for beyond subnet, gateway and driver options.</summary>
/// <param name="Internal">`--internal`: no outbound route, no NAT, no published ports.</param>
/// <param name="IpRange">`--ip-range`: automatic addresses come from this part of the subnet only.</param>
/// <param name="Labels">`--label K=V`: shown by inspect, matched by `ls --filter label=`.</param>
/// <param name="EnableIPv6">`--ipv6`: dual stack, with <paramref name="Subnet6"/> (and its gateway).</param>
public sealed record NetworkSpec(bool Internal = false, string? IpRange = null, IReadOnlyDictionary<string, string>? Labels = null,
    bool EnableIPv6 = false, string? Subnet6 = null, string? Gateway6 = null);

/// <summary>The driver options (-o) a bridge network understands, each under our name and Docker's.</summary>
public static partial class NetworkOptions
{
    public const string DockerBridgeName = "com.docker.network.bridge.name";
    public const string Mtu = "mtu";
    public const string DockerMtu = "com.docker.network.driver.mtu";

    public sealed record Parsed(string? BridgeName, int Mtu);

    public static Parsed Parse(IReadOnlyDictionary<string, string> options)
    {
        string? bridge = null;
        int mtu = 0;
        foreach (var (key, value) in options)
        {
            switch (key)
            {
                case NetworkStore.BridgeNameOption or DockerBridgeName:
                    if (bridge is not null && bridge != value)
                        throw new NetworkException($"conflicting bridge names '{bridge}' and '{value}'");
                    bridge = value;
                    break;
                case Mtu or DockerMtu:
                    // 68 is IPv4's minimum; 65535 the largest a bridge or veth takes.
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int m) || m is < 68 or > 65535)
                        throw new NetworkException($"invalid MTU '{value}': must be a number from 68 to 65535");
                    mtu = m;
                    break;
                default:
                    throw new NetworkException($"unknown network option '{key}': use {NetworkStore.BridgeNameOption} " +
                        $"({DockerBridgeName}) or {Mtu} ({DockerMtu})");
            }
        }
        return new Parsed(bridge, mtu);
    }

    public static Subnet? ParseIpRange(string? text, Subnet subnet)
    {
        if (text is null) return null;
        Subnet range = Subnet.Parse(text);
        if (!subnet.Contains(range.Network) || !subnet.Contains(range.Broadcast))
            throw new NetworkException($"invalid ip-range '{text}': not inside subnet {subnet}");
        if (range.Prefix > 31)
            throw new NetworkException($"invalid ip-range '{text}': prefix must be at most /31");
        return range;
    }

    /// <summary>Labels land in the network's JSON record only; keys are kept to printable text without '='.</summary>
    public static void ValidateLabels(IReadOnlyDictionary<string, string>? labels)
    {
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            if (key.Length == 0 || key.Any(char.IsControl) || value.Any(char.IsControl))
                throw new NetworkException($"invalid label '{key}': keys and values must be printable and keys not empty");
        }
    }

    /// <summary>Names a container resolves by on a network (its name, `--network-alias`es, `--add-host` names): one
    /// DNS name each (RFC 1123 labels), because they are written line by line into aardvark-dns's configuration
    /// and /etc/hosts, where a space, comma or newline would add entries of the user's choosing.</summary>
    public static void ValidateDnsName(string name, string what)
    {
        if (name.Length > 253 || !DnsNameRegex().IsMatch(name))
            throw new NetworkException($"invalid {what} \"{name.ReplaceLineEndings("\\n")}\": use letters, digits, '-', '_' and '.'");
    }

    [GeneratedRegex(@"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*$")]
    private static partial Regex DnsNameRegex();
}

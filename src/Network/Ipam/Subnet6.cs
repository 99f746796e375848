using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MiniDocker.Network;

/// <summary>
/// An IPv6 network in CIDR form ("fd00:1::/64"), normalised like <see cref="Subnet"/>: host bits of
/// <see cref="Network"/> are zero, and <see cref="ToString"/> (RFC 5952 text) round-trips through <see cref="Parse"/>.
/// </summary>
public readonly record struct Subnet6
{
    /// <summary>The longest prefix a network may have: container addresses are handed out within one /64, the size
    /// every IPv6 link is meant to have (RFC 4291's 64-bit interface identifiers; SLAAC, privacy addresses and
    /// neighbour discovery tooling assume it; RFC 7421). A longer prefix is refused rather than half supported.</summary>
    public const int LongestPrefix = 64;

    private readonly UInt128 _network;

    public int Prefix { get; }

    private Subnet6(UInt128 network, int prefix)
    {
        _network = network;
        Prefix = prefix;
    }

    public static Subnet6 Containing(IPAddress address, int prefix)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            throw new NetworkException($"address {address} is not IPv6");
        if (prefix is < 0 or > 128)
            throw new NetworkException($"invalid prefix length {prefix} for {address}: must be 0-128");
        return new Subnet6(ToUInt128(address) & MaskOf(prefix), prefix);
    }

    /// <summary>Parses "fd00:1::/64": an IPv6 address without a zone, a prefix 0-128, no host bits set.</summary>
    public static Subnet6 Parse(string text)
    {
        int slash = text.IndexOf('/');
        if (slash < 0)
            throw new NetworkException($"invalid subnet '{text}': expected CIDR form ADDRESS/PREFIX, e.g. fd00:1::/64");
        string addressText = text[..slash];
        string prefixText = text[(slash + 1)..];
        if (addressText.Contains('%') || !IPAddress.TryParse(addressText, out IPAddress? address))
            throw new NetworkException($"invalid subnet '{text}': '{addressText}' is not an IP address");
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            throw new NetworkException($"invalid subnet '{text}': not an IPv6 address");
        if (!int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out int prefix) || prefix > 128)
            throw new NetworkException($"invalid subnet '{text}': prefix '{prefixText}' must be a number 0-128");
        Subnet6 subnet = Containing(address, prefix);
        if (subnet._network != ToUInt128(address))
            throw new NetworkException($"invalid subnet '{text}': host bits are set, did you mean {subnet}?");
        return subnet;
    }

    public IPAddress Network => FromUInt128(_network);

    /// <summary>The first address after the network address (::1 of the prefix), Docker's default IPv6 gateway.</summary>
    public IPAddress FirstHost => AddressAt(1);

    public bool Contains(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId == 0 && (ToUInt128(address) & MaskOf(Prefix)) == _network;

    public bool Overlaps(Subnet6 other)
    {
        UInt128 commonMask = MaskOf(Math.Min(Prefix, other.Prefix));
        return (_network & commonMask) == (other._network & commonMask);
    }

    /// <summary>The address <paramref name="offset"/> positions after the network address; offsets stay in the last
    /// 63 bits, which every allowed prefix (at most /64) has room for.</summary>
    public IPAddress AddressAt(long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return FromUInt128(_network + (UInt128)(ulong)offset);
    }

    /// <summary>Position of <paramref name="address"/> after the network address, when it is below 2^63 (else -1:
    /// an address no automatic allocation could produce).</summary>
    public long OffsetOf(IPAddress address)
    {
        if (!Contains(address))
            throw new ArgumentException($"{address} is outside {this}", nameof(address));
        UInt128 offset = ToUInt128(address) - _network;
        return offset <= long.MaxValue ? (long)(ulong)offset : -1;
    }

    public override string ToString() => $"{Network}/{Prefix}";

    private static UInt128 MaskOf(int prefix) => prefix == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - prefix);

    private static UInt128 ToUInt128(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || !address.TryWriteBytes(bytes, out _))
            throw new NetworkException($"address {address} is not IPv6");
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    private static IPAddress FromUInt128(UInt128 value)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return new IPAddress(bytes);
    }
}

/// <summary>Parsing of the IPv6 addresses a user writes (`--gateway`, `--ip6`).</summary>
public static class Ipv6
{
    /// <summary>An IPv6 address without a zone (`fe80::1%eth0` names a link, which no network address may) and not
    /// IPv4-mapped (`::ffff:10.0.0.1` is an IPv4 address in disguise).</summary>
    public static IPAddress Parse(string text, string what)
    {
        if (text.Contains('%') || !IPAddress.TryParse(text, out IPAddress? address))
            throw new NetworkException($"invalid {what} '{text}': not an IPv6 address");
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            throw new NetworkException($"invalid {what} '{text}': not an IPv6 address");
        if (address.IsIPv4MappedToIPv6)
            throw new NetworkException($"invalid {what} '{text}': an IPv4-mapped address is not an IPv6 address");
        return address;
    }
}

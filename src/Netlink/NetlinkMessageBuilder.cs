using System.Runtime.InteropServices;
using System.Text;

namespace MiniDocker.Netlink;

/// <summary>
/// Encodes one netlink request into a reusable buffer: header, family header, then 4-byte aligned attributes.
/// Netlink headers and integer attributes are in host byte order; addresses are raw network-order bytes.
/// </summary>
internal sealed class NetlinkMessageBuilder
{
    private byte[] _buffer;
    private int _length;

    public NetlinkMessageBuilder(int initialCapacity = 256)
    {
        _buffer = new byte[initialCapacity];
    }

    public ReadOnlySpan<byte> Message => _buffer.AsSpan(0, _length);

    public uint Sequence { get; private set; }

    public void Begin(ushort type, ushort flags, uint sequence)
    {
        _length = 0;
        Sequence = sequence;
        var header = Append(Rtnl.HeaderLength);
        WriteUInt16(header[4..], type);
        WriteUInt16(header[6..], flags);
        WriteUInt32(header[8..], sequence);
        // nlmsg_len is patched in by End(); nlmsg_pid stays 0 (addressed to the kernel).
    }

    public ReadOnlySpan<byte> End()
    {
        WriteUInt32(_buffer.AsSpan(0, 4), (uint)_length);
        return Message;
    }

    /// <summary>struct ifinfomsg.</summary>
    public void IfInfo(byte family, int index, uint flags = 0, uint change = 0)
    {
        var s = Append(Rtnl.IfInfoLength);
        s[0] = family;
        WriteUInt32(s[4..], (uint)index);
        WriteUInt32(s[8..], flags);
        WriteUInt32(s[12..], change);
    }

    /// <summary>struct ifaddrmsg.</summary>
    public void IfAddr(byte family, byte prefixLength, int index, byte flags = 0)
    {
        var s = Append(Rtnl.IfAddrLength);
        s[0] = family;
        s[1] = prefixLength;
        s[2] = flags;
        WriteUInt32(s[4..], (uint)index);
    }

    /// <summary>struct rtmsg.</summary>
    public void RtMsg(byte family, byte destinationLength, byte table, byte protocol, byte scope, byte type)
    {
        var s = Append(Rtnl.RtMsgLength);
        s[0] = family;
        s[1] = destinationLength;
        s[4] = table;
        s[5] = protocol;
        s[6] = scope;
        s[7] = type;
    }

    /// <summary>A NUL-terminated string (NLA_NUL_STRING style, as iproute2 sends names).</summary>
    public void AttributeString(ushort type, string value)
    {
        var payload = AttributeHeader(type, Encoding.UTF8.GetByteCount(value) + 1);
        Encoding.UTF8.GetBytes(value, payload);
        payload[^1] = 0;
    }

    /// <summary>A string without terminator; NLA_STRING attributes accept either form.</summary>
    public void AttributeStringUnterminated(ushort type, string value) =>
        Encoding.UTF8.GetBytes(value, AttributeHeader(type, Encoding.UTF8.GetByteCount(value)));

    public void AttributeUInt32(ushort type, uint value) => WriteUInt32(AttributeHeader(type, 4), value);

    public void AttributeByte(ushort type, byte value) => AttributeHeader(type, 1)[0] = value;

    public void AttributeBytes(ushort type, ReadOnlySpan<byte> value) => value.CopyTo(AttributeHeader(type, value.Length));

    /// <summary>Opens a nested attribute; pass the returned offset to <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        var offset = _length;
        AttributeHeader(type, 0);
        return offset;
    }

    public void EndNested(int offset) => WriteUInt16(_buffer.AsSpan(offset), (ushort)(_length - offset));

    private Span<byte> AttributeHeader(ushort type, int payloadLength)
    {
        var start = _length;
        var attribute = Append(4 + payloadLength);
        WriteUInt16(attribute, (ushort)(4 + payloadLength));
        WriteUInt16(attribute[2..], type);
        return _buffer.AsSpan(start + 4, payloadLength);
    }

    // Reserves length bytes plus the padding up to the next 4-byte boundary, all zeroed.
    private Span<byte> Append(int length)
    {
        var aligned = Align(length);
        if (_length + aligned > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + aligned));
        var span = _buffer.AsSpan(_length, aligned);
        span.Clear();
        _length += aligned;
        return span[..length];
    }

    public static int Align(int length) => (length + 3) & ~3;

    private static void WriteUInt16(Span<byte> s, ushort value) => MemoryMarshal.Write(s, in value);

    private static void WriteUInt32(Span<byte> s, uint value) => MemoryMarshal.Write(s, in value);
}

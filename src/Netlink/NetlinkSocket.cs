using MiniDocker.Linux;

namespace MiniDocker.Netlink;

/// <summary>
/// An AF_NETLINK/NETLINK_ROUTE socket. .NET's Socket refuses AF_NETLINK (EAFNOSUPPORT), so the descriptor comes
/// from socket(2) directly. It talks only to the kernel (port 0), so it needs no bind. It belongs to the network
/// namespace of the thread that created it, for its whole life.
/// </summary>
internal sealed unsafe class NetlinkSocket : IDisposable
{
    private readonly Fd _handle;
    // The kernel sizes dump datagrams by the largest buffer recv() has offered it (up to 32 KiB), so a buffer this
    // size means fewer, fuller datagrams per dump. Receive() grows it for anything larger.
    private byte[] _receiveBuffer = new byte[32 * 1024];

    private NetlinkSocket(Fd handle)
    {
        _handle = handle;
    }

    public static NetlinkSocket OpenRoute()
    {
        var fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Rtnl.NetlinkRoute);
        if (fd < 0)
            throw new NetlinkException("socket", "NETLINK_ROUTE", Libc.LastErrno);
        var socket = new NetlinkSocket(new Fd(fd));
        try
        {
            // CAP_ACK: error replies echo only the request's header, not the whole request.
            // EXT_ACK: the kernel adds a sentence saying which attribute it rejected and why.
            socket.SetOption(Rtnl.NetlinkCapAck, "NETLINK_CAP_ACK");
            socket.SetOption(Rtnl.NetlinkExtAck, "NETLINK_EXT_ACK");
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Send(ReadOnlySpan<byte> message)
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            long sent;
            fixed (byte* p = message)
            {
                do
                {
                    sent = Libc.send(_handle.Value, p, message.Length, 0);
                }
                while (sent < 0 && Libc.LastErrno == Libc.EINTR);
            }
            if (sent < 0)
                throw new NetlinkException("send", "NETLINK_ROUTE", Libc.LastErrno);
            // Netlink datagrams are sent whole or not at all; a short count would mean a kernel contract change.
            if (sent != message.Length)
                throw new InvalidDataException($"netlink send wrote {sent} of {message.Length} bytes");
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>Receives one whole datagram into the reused buffer; valid until the next call.</summary>
    public ReadOnlySpan<byte> Receive()
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            // A datagram larger than the buffer would be cut and its tail lost, so first peek at its true size
            // (MSG_TRUNC makes recv return it) and grow the buffer before taking it off the queue.
            var size = ReceiveInto(_receiveBuffer, Libc.MSG_PEEK | Libc.MSG_TRUNC);
            if (size > _receiveBuffer.Length)
                _receiveBuffer = new byte[size];
            var received = ReceiveInto(_receiveBuffer, 0);
            return _receiveBuffer.AsSpan(0, received);
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    private int ReceiveInto(byte[] buffer, int flags)
    {
        long received;
        fixed (byte* p = buffer)
        {
            do
            {
                received = Libc.recv(_handle.Value, p, buffer.Length, flags);
            }
            while (received < 0 && Libc.LastErrno == Libc.EINTR);
        }
        if (received < 0)
            throw new NetlinkException("recv", "NETLINK_ROUTE", Libc.LastErrno);
        return (int)received;
    }

    private void SetOption(int option, string optionName)
    {
        var on = 1;
        if (Libc.setsockopt(_handle.Value, Rtnl.SolNetlink, option, &on, sizeof(int)) != 0)
            throw new NetlinkException("setsockopt", optionName, Libc.LastErrno);
    }

    public void Dispose() => _handle.Dispose();
}

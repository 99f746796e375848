using System.Buffers.Binary;
using System.Runtime.InteropServices;
using MiniDocker.Linux;

namespace MiniDocker.Netlink;

/// <summary>
/// Tells when another process (iptables-nft, nft) has committed its nf_tables transactions, before that process
/// exits. It listens on the NFNLGRP_NFTABLES multicast group, where the kernel announces every committed
/// transaction with an NFT_MSG_NEWGEN message that names the committing process (NFTA_GEN_PROC_PID).
///
/// Why: after a commit that deleted rules, the kernel frees them from a work item that first waits for an RCU
/// grace period, and closing any nfnetlink socket while that work is pending waits for it
/// (nft_rcv_nl_event -> nf_tables_trans_destroy_flush_work on NETLINK_URELEASE). iptables-restore and nft close
/// their socket right after the commit, so their exit comes 10-30 ms after the rules were already gone from the
/// packet path. The commit notification is the kernel's own "done"; the tool's exit status adds nothing to it
/// once the notification has come.
///
/// The socket is deliberately created without CLOEXEC so that the watched tool inherits it: closing our
/// descriptor then is not the socket's last release (which would wait for the same grace period), the tool's
/// exit is. Nothing reads it there.
/// </summary>
public sealed partial class NfTablesCommitWatch : IDisposable
{
    private const int NetlinkNetfilter = 12;
    private const int NfnlGroupNfTables = 7;
    private const int NetlinkAddMembership = 1;
    private const ushort NewGenType = (10 << 8) | 15; // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN
    private const ushort GenProcPid = 2;              // NFTA_GEN_PROC_PID, big-endian u32
    private const int NfGenMsgLength = 4;
    private const int Enobufs = 105;
    private const int Eintr = 4;

    private readonly Fd _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];

    private NfTablesCommitWatch(Fd socket) => _socket = socket;

    /// <summary>Starts listening in the calling thread's network namespace, or in <paramref name="netnsPath"/>'s.</summary>
    public static NfTablesCommitWatch Open(string? netnsPath = null)
    {
        // A socket belongs to the namespace of the thread that created it.
        return new NfTablesCommitWatch(netnsPath is null ? OpenSocket() : NetNs.OnThreadIn(netnsPath, OpenSocket));
    }

    private static unsafe Fd OpenSocket()
    {
        int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW /* no CLOEXEC: see the class comment */, NetlinkNetfilter);
        if (fd < 0)
            throw new NetlinkException("socket", "NETLINK_NETFILTER", Marshal.GetLastPInvokeError());
        var handle = new Fd(fd);
        try
        {
            // Multicast is delivered only to bound sockets; port 0 lets the kernel pick one.
            Span<byte> address = stackalloc byte[12];
            address.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(address, 16);
            fixed (byte* a = address)
            {
                if (Libc.bind(fd, a, address.Length) != 0)
                    throw new NetlinkException("bind", "NETLINK_NETFILTER", Marshal.GetLastPInvokeError());
            }
            int group = NfnlGroupNfTables;
            if (Libc.setsockopt(fd, Libc.SOL_NETLINK, NetlinkAddMembership, &group, sizeof(int)) != 0)
                throw new NetlinkException("join", "NFNLGRP_NFTABLES", Marshal.GetLastPInvokeError());
            // Every rule of a batch is announced too (a NEWRULE/DELRULE each) before the NEWGEN; room for a few
            // thousand of them. If the queue overflows anyway, the caller falls back to waiting for the exit.
            int size = 4 << 20;
            _ = Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, &size, sizeof(int));
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private Fd? _exited;
    private int _pid;

    /// <summary>
    /// Names the process to wait for. Call it as soon as the process exists and before it can finish (before it
    /// is given its input): its exit is then told by a pidfd, which cannot name another process after a pid reuse.
    /// </summary>
    public void Follow(int pid)
    {
        _pid = pid;
        int pidfd = (int)Libc.syscall(Libc.SYS_pidfd_open, pid, 0, 0, 0);
        // Already gone (or a kernel without pidfds): only what it announced before can count.
        _exited = pidfd >= 0 ? new Fd(pidfd) : null;
    }

    /// <summary>
    /// Waits until the followed process has committed <paramref name="commits"/> transactions (true), or until it
    /// exits or <paramref name="timeout"/> passes without that (false: the caller then waits for the exit and reads
    /// the exit status as usual). Announcements made before <see cref="Open"/> are not seen.
    /// </summary>
    public unsafe bool WaitForCommits(int commits, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        int seen = 0;
        Span<PollFd> fds = stackalloc PollFd[2];
        int count = _exited is null ? 1 : 2;
        while (true)
        {
            // A process that is gone gets no wait: what it announced is in the queue already.
            long left = _exited is null ? 0 : deadline - Environment.TickCount64;
            if (left < 0)
                return false;
            fds[0] = new PollFd { Fd = _socket.Value, Events = Libc.POLLIN };
            if (_exited is not null)
                fds[1] = new PollFd { Fd = _exited.Value, Events = Libc.POLLIN };
            int ready;
            fixed (PollFd* p = fds)
                ready = Libc.poll(p, (nuint)count, (int)left);
            if (ready < 0)
            {
                if (Marshal.GetLastPInvokeError() == Eintr)
                    continue;
                return false;
            }
            if ((fds[0].Revents & Libc.POLLIN) != 0)
            {
                long received;
                fixed (byte* b = _buffer)
                    received = Libc.recv(_socket.Value, b, _buffer.Length, Libc.MSG_DONTWAIT);
                if (received > 0)
                {
                    seen += CountCommits(_buffer.AsSpan(0, (int)received), _pid);
                    if (seen >= commits)
                        return true;
                    continue;
                }
                // ENOBUFS: announcements were dropped, possibly ours; only the exit can tell now.
                if (received < 0 && Marshal.GetLastPInvokeError() == Enobufs)
                    return false;
                continue;
            }
            // The queue is drained: a process that has exited (or timed out) made no more announcements.
            if (ready == 0 || (count == 2 && (fds[1].Revents & Libc.POLLIN) != 0))
                return false;
        }
    }

    /// <summary>How many NEWGEN messages of <paramref name="pid"/> one datagram holds.</summary>
    internal static int CountCommits(ReadOnlySpan<byte> datagram, int pid)
    {
        int count = 0;
        while (datagram.Length >= Rtnl.HeaderLength)
        {
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(datagram);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(datagram[4..]);
            if (length < Rtnl.HeaderLength || length > datagram.Length)
                break;
            if (type == NewGenType && GenerationPid(datagram[(Rtnl.HeaderLength + NfGenMsgLength)..length]) == pid)
                count++;
            int next = NetlinkMessageBuilder.Align(length);
            if (next >= datagram.Length)
                break;
            datagram = datagram[next..];
        }
        return count;
    }

    private static int GenerationPid(ReadOnlySpan<byte> attributes)
    {
        while (attributes.Length >= 4)
        {
            ushort length = BinaryPrimitives.ReadUInt16LittleEndian(attributes);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(attributes[2..]) & Rtnl.NlaTypeMask);
            if (length < 4 || length > attributes.Length)
                break;
            if (type == GenProcPid && length >= 8)
                return (int)BinaryPrimitives.ReadUInt32BigEndian(attributes[4..]);
            int next = NetlinkMessageBuilder.Align(length);
            if (next >= attributes.Length)
                break;
            attributes = attributes[next..];
        }
        return -1;
    }

    public void Dispose()
    {
        _exited?.Dispose();
        _socket.Dispose();
    }
}

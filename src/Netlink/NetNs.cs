using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;
using MiniDocker.Linux;

namespace MiniDocker.Netlink;

/// <summary>Network namespace files (/proc/PID/ns/net, /run/netns/NAME).</summary>
public static class NetNs
{
    /// <summary>Opens a network namespace file for setns() or IFLA_NET_NS_FD.</summary>
    public static SafeHandle Open(string path) => OpenFile(path);

    internal static Fd OpenFile(string path)
    {
        int fd = Eintr.Retry(() => Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0));
        if (fd < 0)
            throw new NetlinkException("netns", path, Libc.LastErrno);
        return new Fd(fd, path);
    }

    /// <summary>Runs <paramref name="work"/> inside the network namespace at <paramref name="netnsPath"/> (see
    /// <see cref="OnThreadIn{T}"/>): sockets it creates belong to that namespace.</summary>
    public static T Run<T>(string netnsPath, Func<T> work) => OnThreadIn(netnsPath, work);

    /// <summary>Moves the calling thread into the network namespace at <paramref name="path"/>.</summary>
    internal static void EnterOnCurrentThread(string path)
    {
        using var ns = OpenFile(path);
        if (Libc.setns(ns.Value, Libc.CLONE_NEWNET) != 0)
            throw new NetlinkException("setns", path, Libc.LastErrno);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a fresh dedicated thread that has entered the network namespace at
    /// <paramref name="netnsPath"/>, and returns its result or rethrows its exception. Sockets it creates stay in
    /// that namespace for their whole life. setns() moves only the calling thread; a new thread that ends
    /// afterwards is used so that no pooled thread is ever left in a foreign namespace, where it would silently
    /// create later sockets there. <paramref name="work"/> must stay synchronous: after an await it would continue
    /// on a pool thread in the caller's namespace.
    /// </summary>
    internal static T OnThreadIn<T>(string netnsPath, Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                EnterOnCurrentThread(netnsPath);
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = "netns",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }
}

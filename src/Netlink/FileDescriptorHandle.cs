using System.Runtime.InteropServices;
using Tmds.Linux;

namespace MiniDocker.Netlink;

/// <summary>Owns one file descriptor (netlink socket or namespace file) and closes it exactly once.</summary>
internal sealed class FileDescriptorHandle : SafeHandle
{
    public FileDescriptorHandle(int fd) : base(invalidHandleValue: -1, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle == -1;

    public int Fd => (int)handle;

    // close() is not retried on EINTR: on Linux the descriptor is released even when close reports EINTR,
    // and retrying could close an unrelated descriptor another thread just received.
    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;
}

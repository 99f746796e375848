using MiniDocker.Linux;
using MiniDocker.Runtime.Native;

namespace MiniDocker.Runtime.Tests;

public sealed class SpawnTests
{
    [Fact]
    public void Fds_can_be_swapped_without_one_overwriting_the_other()
    {
        var (xRead, xWrite) = Fd.Pipe();
        var (yRead, yWrite) = Fd.Pipe();
        // The child's dup2s run in order: 100 → 101 first would clobber 101 before it is copied to 100.
        Libc.Check(Libc.dup2(xWrite.Value, 100), "dup2");
        Libc.Check(Libc.dup2(yWrite.Value, 101), "dup2");
        using var x100 = new Fd(100);
        using var y101 = new Fd(101);
        xWrite.Dispose();
        yWrite.Dispose();
        int pid = Spawn.Start("/bin/bash", ["bash", "-c", "echo to-x >&101; echo to-y >&100"], [], [(100, 101), (101, 100)], newSession: false);
        x100.Dispose();
        y101.Dispose();
        Assert.Equal(0, Launcher.Reap(pid));
        using (xRead)
        using (yRead)
        {
            Assert.Equal("to-x\n", new StreamReader(new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(xRead.DangerousGetHandle(), false), FileAccess.Read)).ReadToEnd());
            Assert.Equal("to-y\n", new StreamReader(new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(yRead.DangerousGetHandle(), false), FileAccess.Read)).ReadToEnd());
        }
    }
}

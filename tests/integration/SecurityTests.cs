using System.Diagnostics;
using System.Security.Cryptography;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Issue 10's capability and identity switches, and attacks from inside a container with Docker's defaults: each is
/// refused, and allowed again where the matching switch says so.
/// </summary>
public sealed class SecurityTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];
    public void Dispose() => _md.Dispose();

    private string Name(string what) => $"sec-{what}-{_tag}";

    private Result RunRm(params string[] args) => _md.Run(["run", "--rm", "--net", "none", .. args]);

    [Fact]
    public void With_the_defaults_root_in_a_container_cannot_mount_configure_the_network_load_modules_reboot_or_set_the_clock()
    {
        var r = RunRm("busybox", "sh", "-c",
            "mkdir -p /mnt; mount -t tmpfs t /mnt 2>/dev/null && echo MOUNTED; " +
            "ip link set lo down 2>/dev/null && echo NETADMIN; " +
            "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo PROCSYS; " +
            "echo h > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ; " +
            "[ -s /proc/kcore ] && echo KCORE; " +
            "date -s 2001-01-01 2>&1 | grep -q 'not permitted' || echo CLOCK; " +
            "insmod /nonexistent.ko 2>&1 | grep -q 'not permitted' || echo MODULE; " +
            "grep CapBnd /proc/self/status; echo done");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var word in new[] { "MOUNTED", "NETADMIN", "PROCSYS", "SYSRQ", "KCORE", "CLOCK" })
            Assert.DoesNotContain(word, r.Stdout);
        Assert.Contains("CapBnd:\t00000000a80425fb", r.Stdout); // Docker's default set
        Assert.Contains("done", r.Stdout);
    }

    [Fact]
    public void A_container_cannot_ptrace_another_containers_process_even_with_cap_sys_ptrace()
    {
        TestImages.BusyboxWith(_md, Name("ptrace"), "ptrace-probe.c");
        var victim = _md.Run("run", "-d", "--net", "none", "busybox", "sleep", "600");
        Assert.True(victim.ExitCode == 0, victim.ToString());
        int hostPid = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_md.Root, "containers", victim.Stdout.Trim(), "state.json")))
            .RootElement.GetProperty("pid").GetInt32();
        // The victim's host pid names nothing in the attacker's pid namespace; CAP_SYS_PTRACE does not change that.
        foreach (var caps in new[] { Array.Empty<string>(), ["--cap-add", "SYS_PTRACE"] })
        {
            var r = RunRm([.. caps, Name("ptrace"), "ptrace-probe", hostPid.ToString()]);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("own-child: attached", r.Stdout); // the control: ptrace itself works in the container
            Assert.Contains($"{hostPid}: ESRCH", r.Stdout);
        }
        // The switch that would allow it in Docker (a shared pid namespace) does not exist here; the host can trace it.
        Assert.Equal(0, _md.Run("rm", "-f", victim.Stdout.Trim()).ExitCode);
    }

    [Fact]
    public void Cap_add_and_cap_drop_and_privileged_change_what_the_program_may_do()
    {
        Assert.Contains("NETADMIN", RunRm("--cap-add", "NET_ADMIN", "busybox", "sh", "-c", "ip link set lo down && echo NETADMIN").Stdout);
        Assert.Contains("NETADMIN", RunRm("--cap-add", "cap_net_admin", "busybox", "sh", "-c", "ip link set lo down && echo NETADMIN").Stdout);
        var dropped = RunRm("--cap-drop", "CHOWN", "busybox", "sh", "-c", "touch /f; chown 1 /f 2>&1 || echo REFUSED");
        Assert.Contains("REFUSED", dropped.Stdout);
        var none = RunRm("--cap-drop", "ALL", "busybox", "grep", "CapBnd", "/proc/self/status");
        Assert.Contains("CapBnd:\t0000000000000000", none.Stdout);

        var privileged = RunRm("--privileged", "busybox", "sh", "-c",
            "mkdir -p /mnt; mount -t tmpfs t /mnt && echo MOUNTED; [ -d /proc/acpi ] && ls /proc/acpi >/dev/null && echo UNMASKED; grep CapBnd /proc/self/status");
        Assert.Contains("MOUNTED", privileged.Stdout);
        Assert.DoesNotContain("CapBnd:\t00000000a80425fb", privileged.Stdout);

        var unknown = RunRm("--cap-add", "FLY", "busybox", "true");
        Assert.Equal(125, unknown.ExitCode);
        Assert.Contains("unknown capability: \"FLY\"", unknown.Stderr);
    }

    [Fact]
    public void User_group_add_and_no_new_privileges_apply_to_the_program_and_to_exec()
    {
        var id = RunRm("-u", "1000:1000", "--group-add", "10", "busybox", "id");
        Assert.Matches(@"^uid=1000 gid=1000 groups=(1000,10|10,1000)\n$", id.Stdout.Replace("(wheel)", ""));
        var nnp = RunRm("--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status");
        Assert.Contains("NoNewPrivs:\t1", nnp.Stdout);
        Assert.Contains("NoNewPrivs:\t0", RunRm("busybox", "grep", "NoNewPrivs", "/proc/self/status").Stdout);

        var run = _md.Run("run", "-d", "--net", "none", "--name", Name("user"), "-u", "1000", "--cap-drop", "ALL", "busybox", "sleep", "300");
        Assert.True(run.ExitCode == 0, run.ToString());
        var exec = _md.Run("exec", Name("user"), "sh", "-c", "id -u; grep CapBnd /proc/self/status");
        Assert.Equal("1000\nCapBnd:\t0000000000000000\n", exec.Stdout);
        Assert.Equal("0\n", _md.Run("exec", "-u", "0", Name("user"), "id", "-u").Stdout);
    }

    [Fact]
    public void A_container_cannot_overwrite_the_runtimes_binary_through_proc_pid_exe_cve_2019_5736()
    {
        // The attack writes to the binary it reaches: give it a copy of minidocker, never the one under test.
        string dir = Path.Combine(Path.GetTempPath(), "mdk-cve-" + _tag);
        Directory.CreateDirectory(dir);
        string binary = Path.Combine(dir, "minidocker");
        File.Copy(MiniDocker.Binary, binary);
        File.SetUnixFileMode(binary, (UnixFileMode)0b111_101_101);
        try
        {
            string before = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(binary)));
            ImportAttackImage();
            var run = Copy(binary, "run", "-d", "--net", "none", "--name", Name("cve"), "exebox", "/bin/exe-attack");
            Assert.True(run.ExitCode == 0, run.ToString());
            // `exec` runs minidocker's exec-init in the container, and /bin/evil (#!/proc/self/exe) runs it again.
            string logs = "";
            Result? exec = null;
            for (int i = 0; i < 40 && !logs.Contains("opened"); i++)
            {
                exec = Copy(binary, "exec", Name("cve"), "/bin/evil");
                logs = Copy(binary, "logs", Name("cve")).Stdout;
            }
            Assert.True(logs.Contains("opened"), $"the attack found no minidocker process: {logs} {exec}");
            // The monitor runs the same file ("text file busy"): once it is gone, only the mount protects the binary.
            string id = run.Stdout.Trim();
            using (var state = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_md.Root, "containers", id, "state.json"))))
                Process.Start("kill", ["-9", state.RootElement.GetProperty("monitorPid").GetInt32().ToString()])!.WaitForExit();
            string result = Path.Combine(_md.Root, "containers", id, "upper", "result");
            for (int i = 0; i < 300 && !File.Exists(result); i++) Thread.Sleep(100);
            Assert.Equal("write=EROFS\n", File.ReadAllText(result));
            Assert.Equal(before, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(binary))));
        }
        finally
        {
            Copy(binary, "rm", "-f", Name("cve"));
            Directory.Delete(dir, recursive: true);
        }
    }

    private Result Copy(string binary, params string[] args)
    {
        var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--root", _md.Root }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(60_000)) p.Kill(true);
        return new Result(p.ExitCode, stdout.Result, stderr);
    }

    /// <summary>"exebox": busybox, glibc, the attacker, and /bin/evil, a script whose interpreter is /proc/self/exe.</summary>
    private void ImportAttackImage() => TestImages.BusyboxWith(_md, "exebox", "exe-attack.c", rootfs =>
    {
        File.WriteAllText(Path.Combine(rootfs, "bin", "evil"), "#!/proc/self/exe\n");
        File.SetUnixFileMode(Path.Combine(rootfs, "bin", "evil"), (UnixFileMode)0b111_101_101);
        // minidocker is a dynamic executable: as the script's interpreter it needs glibc's loader in the image (the
        // CVE needs "an image with glibc").
        foreach (var library in Sh.Run("ldd", MiniDocker.Binary).Split('\n')
                     .SelectMany(l => l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).Where(w => w.StartsWith('/')))
        {
            string target = Path.Combine(rootfs, library.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(new FileInfo(library).ResolveLinkTarget(true)?.FullName ?? library, target, overwrite: true);
        }
    });
}

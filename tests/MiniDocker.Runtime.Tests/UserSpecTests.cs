using MiniDocker.Runtime.Init;

namespace MiniDocker.Runtime.Tests;

public sealed class UserSpecTests
{
    private const string Passwd = "root:x:0:0:root:/root:/bin/sh\n# comment\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1001::/home/app:/bin/sh\n";
    private const string Group = "root:x:0:\nnobody:x:65534:\napp:x:1001:\nwheel:x:10:app,other\naudio:x:29:other\n";

    [Fact]
    public void Default_is_root_with_roots_groups() =>
        Assert.Equivalent(new ContainerUser(0, 0, [0]), UserSpec.Resolve(null, Passwd, Group));

    [Fact]
    public void A_name_takes_uid_gid_and_supplementary_groups_from_the_containers_files() =>
        Assert.Equivalent(new ContainerUser(1000, 1001, [1001, 10]), UserSpec.Resolve("app", Passwd, Group));

    [Fact]
    public void A_uid_in_passwd_takes_its_gid_and_one_without_an_entry_gets_gid_0()
    {
        Assert.Equivalent(new ContainerUser(65534, 65534, [65534]), UserSpec.Resolve("65534", Passwd, Group));
        Assert.Equivalent(new ContainerUser(4242, 0, [0]), UserSpec.Resolve("4242", Passwd, Group));
        Assert.Equivalent(new ContainerUser(4242, 0, [0]), UserSpec.Resolve("4242", "", ""));
    }

    [Fact]
    public void An_explicit_group_replaces_the_users_groups()
    {
        Assert.Equivalent(new ContainerUser(1000, 29, [29]), UserSpec.Resolve("app:audio", Passwd, Group));
        Assert.Equivalent(new ContainerUser(1234, 5, [5]), UserSpec.Resolve("1234:5", Passwd, Group));
    }

    [Fact]
    public void Unknown_names_fail_with_dockers_message_and_126()
    {
        var user = Assert.Throws<ContainerException>(() => UserSpec.Resolve("ghost", Passwd, Group));
        Assert.Equal("unable to find user ghost: no matching entries in passwd file", user.Message);
        Assert.Equal(126, user.ExitCode);
        var group = Assert.Throws<ContainerException>(() => UserSpec.Resolve("app:ghosts", Passwd, Group));
        Assert.Equal("unable to find group ghosts: no matching entries in group file", group.Message);
    }
}

using System.Runtime.CompilerServices;

namespace BtrfsLite.Tests.Support;

/// <summary>
/// Every image the tests open, in this process and in every btrfslite process they start, compares its per-extent
/// qgroup accounting with a full recomputation at each commit (a difference fails the commit, and so the test).
/// </summary>
internal static class VerifyAccountingEverywhere
{
    [ModuleInitializer]
    internal static void TurnOn() => Environment.SetEnvironmentVariable("BTRFSLITE_VERIFY_ACCOUNTING", "1");
}

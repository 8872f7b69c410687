import HALBAppliance
import Testing

@Suite struct OVFEnvironmentTests {
    /// An environment as `vmware-rpctool "info-get guestinfo.ovfEnv"` prints it, with `properties` in its
    /// PropertySection.
    static func environment(_ properties: String, prefix: String = "oe") -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Environment
             xmlns="http://schemas.dmtf.org/ovf/environment/1"
             xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
             xmlns:\(prefix)="http://schemas.dmtf.org/ovf/environment/1"
             xmlns:ve="http://www.vmware.com/schema/ovfenv"
             \(prefix):id=""
             ve:vCenterId="vm-1042">
           <PlatformSection>
              <Kind>VMware ESXi</Kind>
              <Version>8.0.2</Version>
              <Vendor>VMware, Inc.</Vendor>
              <Locale>en</Locale>
           </PlatformSection>
           <!-- <Property oe:key="halb.hostname" oe:value="in-a-comment"/> -->
           <PropertySection>
        \(properties)
           </PropertySection>
           <ve:EthernetAdapterSection>
              <ve:Adapter ve:mac="00:50:56:a1:b2:c3" ve:network="VM Network" ve:unitNumber="7"/>
           </ve:EthernetAdapterSection>
        </Environment>
        """
    }

    @Test func propertiesAreReadWithEntitiesDecodedAndBlanksIgnored() throws {
        let document = Self.environment(
            """
                  <Property oe:key="halb.hostname" oe:value="lb2"/>
                  <Property oe:key="halb.name" oe:value=""/>
                  <Property oe:key="halb.address" oe:value="192.0.2.20/24,2001:db8::20/64"/>
                  <Property oe:key="halb.gateway" oe:value='192.0.2.1'/>
                  <Property oe:key="halb.dns" oe:value=""/>
                  <Property oe:value="https://console.example.net:8443" oe:key="halb.console"></Property>
                  <Property oe:key="halb.console_ca_sha256" oe:value="\(String(repeating: "AB", count: 32))"/>
                  <Property oe:key="halb.join_token" oe:value="a&amp;b&lt;c&gt;d&quot;e&apos;f&#65;&#x42;"/>
                  <Property oe:key="vami.DNS.Other_Product" oe:value="anything &amp; more"/>
            """
        )
        let input = try OVFEnvironment.parse(document)
        #expect(input[.hostname] == "lb2")
        #expect(input[.name] == nil)
        #expect(input[.dns] == nil)
        #expect(input[.gateway] == "192.0.2.1")
        #expect(input[.joinToken] == "a&b<c>d\"e'fAB")
        let settings = try ApplianceSettings(validating: input)
        #expect(settings.name == "lb2")
        #expect(settings.console.description == "https://console.example.net:8443")
    }

    @Test func aBlankPropertyDoesNotCountAsGiven() throws {
        let document = Self.environment(
            #"<Property oe:key="halb.name" oe:value=" "/><Property oe:key="halb.name" oe:value="edge"/>"#
        )
        #expect(try OVFEnvironment.parse(document)[.name] == "edge")
    }

    @Test func anyNamespacePrefixIsAccepted() throws {
        let document = Self.environment(#"<Property ns0:key="halb.hostname" ns0:value="lb3"/>"#, prefix: "ns0")
        #expect(try OVFEnvironment.parse(document)[.hostname] == "lb3")
    }

    @Test func anUnknownHALBPropertyIsAnErrorNamingIt() {
        let document = Self.environment(#"<Property oe:key="halb.consol" oe:value="https://x"/>"#)
        let message = refusal { try OVFEnvironment.parse(document) }
        #expect(message.hasPrefix("halb.consol: unknown property; the properties are halb.hostname,"), "\(message)")
    }

    @Test func otherMachinesPropertiesInEntitiesAreIgnored() throws {
        let document = Self.environment(
            """
                  <Property oe:key="halb.hostname" oe:value="mine"/>
               </PropertySection>
               <Entity oe:id="other-vm">
                  <PropertySection>
                     <Property oe:key="halb.hostname" oe:value="theirs"/>
                  </PropertySection>
               </Entity>
               <PropertySection>
            """
        )
        #expect(try OVFEnvironment.parse(document)[.hostname] == "mine")
    }

    @Test(arguments: [
        (
            #"<Property oe:key="halb.hostname" oe:value="lb1"/><Property oe:key="halb.hostname" oe:value="lb2"/>"#,
            "halb.hostname: the property is given twice"
        ),
        (
            #"<Property oe:key="halb.hostname" oe:value="a&bogus;"/>"#,
            #"halb.hostname: "&bogus;" is not a character or entity reference"#
        ),
        (
            #"<Property oe:key="halb.hostname" oe:value="a&#0;"/>"#,
            #"halb.hostname: "&#0;" is not a character or entity reference"#
        ),
        (
            #"<Property oe:key="halb.hostname" oe:value="a & b"/>"#,
            #"halb.hostname: "& b" is an unterminated reference"#
        ),
        (
            #"<Property oe:key="halb.hostname" oe:value="lb1"#,
            "ovf-env: the value of attribute oe:value of <Property holds a <"
        ),
        (#"<Property oe:value="lb1"/>"#, "ovf-env: a Property element has no key attribute"),
    ])
    func malformedPropertiesAreRefused(properties: String, expected: String) {
        let message = refusal { try OVFEnvironment.parse(Self.environment(properties)) }
        #expect(message == expected)
    }

    @Test func aDocumentTypeDeclarationIsRefused() {
        let document = #"<!DOCTYPE Environment [<!ENTITY x "lol">]><Environment/>"#
        #expect(refusal { try OVFEnvironment.parse(document) }.contains("DOCTYPE"))
    }

    @Test func anOversizeDocumentIsRefused() {
        let document = Self.environment(String(repeating: "<!-- padding padding padding -->\n", count: 2100))
        let message = refusal { try OVFEnvironment.parse(document) }
        #expect(message.hasPrefix("ovf-env: the document is"), "\(message)")
        #expect(message.hasSuffix("more than the limit of 64 KiB; refused"), "\(message)")
    }
}

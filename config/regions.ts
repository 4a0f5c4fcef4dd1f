/**
 * The regions each supported cloud has, used to reject a site whose `region` does not exist.
 *
 * AWS regions come from the provider package's own `Region` enum, so a provider upgrade brings new
 * regions with it. `@pulumi/azure-native` ships no location list, so Azure's is kept here (from
 * `az account list-locations --query "[?metadata.regionType=='Physical'].name"`).
 */
import { Region as AwsRegionEnum } from "@pulumi/aws/types/enums";

/** Every AWS region name (`us-east-1`, …) the pinned `@pulumi/aws` knows. */
export const AWS_REGIONS: ReadonlySet<string> = new Set(Object.values(AwsRegionEnum));

/** Every physical Azure region name (`westeurope`, …), in Azure's short lower-case form. */
export const AZURE_REGIONS: ReadonlySet<string> = new Set([
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "austriaeast",
    "belgiumcentral",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "chilecentral",
    "eastasia",
    "eastus",
    "eastus2",
    "francecentral",
    "francesouth",
    "germanynorth",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "jioindiacentral",
    "jioindiawest",
    "koreacentral",
    "koreasouth",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southindia",
    "southeastasia",
    "spaincentral",
    "swedencentral",
    "swedensouth",
    "switzerlandnorth",
    "switzerlandwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
]);

/** An example region per cloud, used in error messages. */
export const EXAMPLE_REGION = { aws: "eu-west-1", azure: "westeurope" } as const;

import { passiveClientCheck } from "./passive-client.js";

export default passiveClientCheck("passive-client-random.json");
